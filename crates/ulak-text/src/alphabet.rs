//! GSM 7-bit character sets: one locking shift table plus the extension table reached by ESC,
//! with fast character → septet look-ups for counting and encoding.

use std::sync::OnceLock;

use crate::tables::{DEFAULT_BASIC, DEFAULT_EXTENSION, ESC, TURKISH_LOCKING, TURKISH_SINGLE_SHIFT};

/// A character's GSM 7-bit form in one alphabet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Septets {
    /// One septet of the locking shift (basic) table.
    One(u8),
    /// ESC followed by this septet of the extension / single shift table (2 septets).
    Escaped(u8),
}

impl Septets {
    /// How many septets the character takes.
    pub fn septet_count(self) -> usize {
        match self {
            Septets::One(_) => 1,
            Septets::Escaped(_) => 2,
        }
    }
}

/// The three GSM 7-bit alphabets Ulak encodes with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Alphabet {
    /// Default alphabet + default extension table (no national language IE).
    Default,
    /// Default alphabet + Turkish single shift table (IE 0x24, language 0x01).
    TurkishSingleShift,
    /// Turkish locking shift table (IE 0x25, language 0x01) + default extension table.
    TurkishLockingShift,
}

/// No mapping in the look-up tables.
const NONE: u8 = 0xFF;
/// Marks an escaped (extension table) septet in the look-up tables.
const ESCAPED: u8 = 0x80;

/// Character → septet look-up of one alphabet: a direct table for ASCII, a sorted list otherwise.
struct Lookup {
    ascii: [u8; 128],
    other: Vec<(char, u8)>,
}

impl Lookup {
    fn build(basic: &[Option<char>; 128], extension: &[(u8, char)]) -> Lookup {
        let mut ascii = [NONE; 128];
        let mut other: Vec<(char, u8)> = Vec::new();
        // Extension first, so that a character present in both tables (€ in the Turkish locking
        // table) ends up with its one-septet basic form, written second.
        let entries = extension.iter().map(|&(s, c)| (c, s | ESCAPED)).chain(
            basic
                .iter()
                .enumerate()
                .filter_map(|(s, c)| c.map(|c| (c, s as u8))),
        );
        for (c, v) in entries {
            if (c as u32) < 128 {
                ascii[c as usize] = v;
            } else if let Some(slot) = other.iter_mut().find(|(o, _)| *o == c) {
                slot.1 = v;
            } else {
                other.push((c, v));
            }
        }
        other.sort_unstable_by_key(|&(c, _)| c);
        Lookup { ascii, other }
    }

    #[inline]
    fn get(&self, c: char) -> u8 {
        let cp = c as u32;
        if cp < 128 {
            self.ascii[cp as usize]
        } else {
            match self.other.binary_search_by_key(&c, |&(o, _)| o) {
                Ok(i) => self.other[i].1,
                Err(_) => NONE,
            }
        }
    }
}

/// Extension table as a septet-indexed array, for decoding.
fn extension_array(extension: &[(u8, char)]) -> [Option<char>; 128] {
    let mut out = [None; 128];
    for &(s, c) in extension {
        out[s as usize] = Some(c);
    }
    out
}

static LOOKUPS: OnceLock<[Lookup; 3]> = OnceLock::new();
static DEFAULT_EXT_ARRAY: OnceLock<[Option<char>; 128]> = OnceLock::new();
static TURKISH_EXT_ARRAY: OnceLock<[Option<char>; 128]> = OnceLock::new();

fn lookups() -> &'static [Lookup; 3] {
    LOOKUPS.get_or_init(|| {
        [
            Lookup::build(&DEFAULT_BASIC, DEFAULT_EXTENSION),
            Lookup::build(&DEFAULT_BASIC, TURKISH_SINGLE_SHIFT),
            Lookup::build(&TURKISH_LOCKING, DEFAULT_EXTENSION),
        ]
    })
}

/// The locking shift (basic) table to decode with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockingTable {
    /// GSM 7-bit default alphabet.
    Default,
    /// Turkish national language locking shift table.
    Turkish,
}

/// The single shift (extension) table to decode escaped septets with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShiftTable {
    /// Default alphabet extension table.
    Default,
    /// Turkish national language single shift table.
    Turkish,
}

impl LockingTable {
    /// The table's characters by septet.
    pub fn chars(self) -> &'static [Option<char>; 128] {
        match self {
            LockingTable::Default => &DEFAULT_BASIC,
            LockingTable::Turkish => &TURKISH_LOCKING,
        }
    }
}

impl ShiftTable {
    /// The table's characters by the septet that follows ESC.
    pub fn chars(self) -> &'static [Option<char>; 128] {
        match self {
            ShiftTable::Default => {
                DEFAULT_EXT_ARRAY.get_or_init(|| extension_array(DEFAULT_EXTENSION))
            }
            ShiftTable::Turkish => {
                TURKISH_EXT_ARRAY.get_or_init(|| extension_array(TURKISH_SINGLE_SHIFT))
            }
        }
    }
}

impl Alphabet {
    fn index(self) -> usize {
        match self {
            Alphabet::Default => 0,
            Alphabet::TurkishSingleShift => 1,
            Alphabet::TurkishLockingShift => 2,
        }
    }

    /// The tables a receiver decodes this alphabet with.
    pub fn tables(self) -> (LockingTable, ShiftTable) {
        match self {
            Alphabet::Default => (LockingTable::Default, ShiftTable::Default),
            Alphabet::TurkishSingleShift => (LockingTable::Default, ShiftTable::Turkish),
            Alphabet::TurkishLockingShift => (LockingTable::Turkish, ShiftTable::Default),
        }
    }

    /// The character's septets, or `None` when this alphabet cannot carry it.
    #[inline]
    pub fn encode_char(self, c: char) -> Option<Septets> {
        let v = lookups()[self.index()].get(c);
        if v == NONE {
            None
        } else if v & ESCAPED != 0 {
            Some(Septets::Escaped(v & 0x7F))
        } else {
            Some(Septets::One(v))
        }
    }

    /// Septets the character costs: 1, 2, or 0 when it cannot be carried.
    #[inline]
    pub fn cost(self, c: char) -> usize {
        let v = lookups()[self.index()].get(c);
        if v == NONE {
            0
        } else if v & ESCAPED != 0 {
            2
        } else {
            1
        }
    }
}

/// Turns septets (one per octet, values 0..=127) into text with the given tables.
///
/// Per TS 23.038 6.2.1.1 an escaped septet with no extension character shows the basic table's
/// character, and ESC ESC (reserved) shows a space; a lone ESC at the end is dropped.
pub fn decode_septets(
    septets: &[u8],
    locking: LockingTable,
    shift: ShiftTable,
) -> Result<String, crate::TextError> {
    let basic = locking.chars();
    let ext = shift.chars();
    let mut out = String::with_capacity(septets.len());
    let mut escaped = false;
    for (i, &s) in septets.iter().enumerate() {
        if s > 0x7F {
            return Err(crate::TextError::InvalidSeptet {
                position: i,
                value: s,
            });
        }
        if escaped {
            escaped = false;
            let c = if s == ESC {
                ' '
            } else {
                ext[s as usize].or(basic[s as usize]).unwrap_or(' ')
            };
            out.push(c);
        } else if s == ESC {
            escaped = true;
        } else if let Some(c) = basic[s as usize] {
            out.push(c);
        }
    }
    Ok(out)
}
