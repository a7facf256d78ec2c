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

/// A basic (locking shift) table and the extension table ESC reaches.
type Tables = (&'static [Option<char>; 128], &'static [(u8, char)]);

/// The tables of each alphabet, in [`Alphabet::index`] order.
const TABLES: [Tables; 3] = [
    (&DEFAULT_BASIC, DEFAULT_EXTENSION),
    (&DEFAULT_BASIC, TURKISH_SINGLE_SHIFT),
    (&TURKISH_LOCKING, DEFAULT_EXTENSION),
];

static LOOKUPS: OnceLock<[Lookup; 3]> = OnceLock::new();
static DEFAULT_EXT_ARRAY: OnceLock<[Option<char>; 128]> = OnceLock::new();
static TURKISH_EXT_ARRAY: OnceLock<[Option<char>; 128]> = OnceLock::new();

fn lookups() -> &'static [Lookup; 3] {
    LOOKUPS.get_or_init(|| TABLES.map(|(basic, ext)| Lookup::build(basic, ext)))
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
    /// Position of this alphabet's 2-bit field in [`packed_costs`].
    pub(crate) fn index(self) -> usize {
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
        usize::from((packed_costs(c) >> (2 * self.index())) & 0b11)
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

/// Characters below this code point have their costs in one direct table (Latin-1 and Latin
/// Extended-A hold every Turkish letter).
const DIRECT: usize = 0x180;
/// Room for the few table characters above [`DIRECT`] (Greek capitals, €).
const SPARSE: usize = 16;

/// UTF-16 units of a BMP character, in the UCS-2 field (bits 6-7) of a packed cost byte.
const UTF16_ONE: u8 = 1 << 6;

/// Costs of a character in the three alphabets, 2 bits each (see [`Alphabet::index`]), then its
/// UTF-16 length in bits 6-7; built at compile time from the tables, so counting needs no
/// look-up structure at run time.
struct CostTable {
    direct: [u8; DIRECT],
    sparse: [(char, u8); SPARSE],
    sparse_len: usize,
}

static COSTS: CostTable = build_costs();

const fn build_costs() -> CostTable {
    // Every character below DIRECT is in the BMP: one UTF-16 unit (bits 6-7).
    let mut t = CostTable {
        direct: [UTF16_ONE; DIRECT],
        sparse: [('\0', UTF16_ONE); SPARSE],
        sparse_len: 0,
    };
    let sets = TABLES;
    let mut a = 0;
    while a < 3 {
        let (basic, ext) = sets[a];
        let mut i = 0;
        while i < ext.len() {
            set_cost(&mut t, ext[i].1, a, 2);
            i += 1;
        }
        i = 0;
        while i < 128 {
            if let Some(c) = basic[i] {
                set_cost(&mut t, c, a, 1);
            }
            i += 1;
        }
        a += 1;
    }
    t
}

/// Records `cost` for alphabet `a`, a basic-table cost (1) replacing an escape (2).
const fn set_cost(t: &mut CostTable, c: char, a: usize, cost: u8) {
    let shift = 2 * a;
    let cp = c as usize;
    if cp < DIRECT {
        t.direct[cp] = (t.direct[cp] & !(0b11 << shift)) | (cost << shift);
        return;
    }
    let mut i = 0;
    while i < t.sparse_len {
        if t.sparse[i].0 as u32 == c as u32 {
            t.sparse[i].1 = (t.sparse[i].1 & !(0b11 << shift)) | (cost << shift);
            return;
        }
        i += 1;
    }
    t.sparse[t.sparse_len] = (c, UTF16_ONE | (cost << shift));
    t.sparse_len += 1;
}

/// A character's costs in all four encodings, 2 bits each (0 = not carried): GSM-7, Turkish
/// single shift, Turkish locking shift, UCS-2.
#[inline]
pub(crate) fn packed_costs(c: char) -> u8 {
    let cp = c as usize;
    if cp < DIRECT {
        return COSTS.direct[cp];
    }
    let mut i = 0;
    while i < COSTS.sparse_len {
        if COSTS.sparse[i].0 == c {
            return COSTS.sparse[i].1;
        }
        i += 1;
    }
    (c.len_utf16() as u8) << 6
}
