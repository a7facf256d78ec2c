//! Counting and splitting. The text is decoded from UTF-8 once into one packed cost byte per
//! character (see [`packed_costs`]); choosing the encoding and splitting then read only bytes.

use crate::TextError;
use crate::alphabet::packed_costs;
use crate::segment::{ConcatRef, Count, Encoding, MAX_SEGMENTS, Options, Policy};

/// Characters whose costs (at most 3 each) surely fit a 16-bit lane.
const LANE_SAFE_CHARS: usize = 0xFFFF / 3;

/// A packed cost byte spread into four 16-bit lanes, one per encoding.
static SPREAD: [u64; 256] = spread_table();

const fn spread_table() -> [u64; 256] {
    let mut t = [0u64; 256];
    let mut p = 0;
    while p < 256 {
        let mut k = 0;
        while k < 4 {
            t[p] |= (((p >> (2 * k)) & 0b11) as u64) << (16 * k);
            k += 1;
        }
        p += 1;
    }
    t
}

/// Per-character costs of a text and its units in each encoding.
struct Measured {
    /// One packed cost byte per Unicode code point.
    costs: Vec<u8>,
    /// Units in each encoding of [`Encoding::ALL`]; `None` where it cannot carry the text.
    units: [Option<usize>; 4],
}

impl Measured {
    fn of(text: &str) -> Measured {
        let costs: Vec<u8> = if text.is_ascii() {
            // Most texts are plain ASCII: skip UTF-8 decoding.
            text.bytes().map(|b| packed_costs(char::from(b))).collect()
        } else {
            // Code points never outnumber bytes: fill a byte-sized buffer, then trim it.
            let mut costs = vec![0u8; text.len()];
            let mut n = 0;
            for (slot, c) in costs.iter_mut().zip(text.chars()) {
                *slot = packed_costs(c);
                n += 1;
            }
            costs.truncate(n);
            costs
        };
        // Sum the four 2-bit fields of every byte at once, in 16-bit lanes of a u64 (SWAR);
        // the lanes are emptied before they could overflow.
        let mut sums = [0usize; 4];
        let mut missing = 0u8;
        for chunk in costs.chunks(LANE_SAFE_CHARS) {
            let mut lanes = 0u64;
            for &p in chunk {
                lanes += SPREAD[usize::from(p)];
                missing |= !(p | (p >> 1)) & 0b0101_0101;
            }
            for (k, sum) in sums.iter_mut().enumerate() {
                *sum += ((lanes >> (16 * k)) & 0xFFFF) as usize;
            }
        }
        let units = [0, 1, 2, 3].map(|k| (missing & (1 << (2 * k)) == 0).then_some(sums[k]));
        Measured { costs, units }
    }

    fn units(&self, e: Encoding) -> Option<usize> {
        self.units[(e.cost_shift() / 2) as usize]
    }
}

/// Counts and splits `text` as `opts` asks.
pub fn count(text: &str, opts: &Options) -> Result<Count, TextError> {
    let m = Measured::of(text);
    let encoding = choose_measured(&m, opts);
    let mut count = split(text, &m, encoding, opts.concat_ref)?;
    count.policy = opts.policy;
    Ok(count)
}

/// Picks the encoding for `text` under `opts.policy`.
pub fn choose(text: &str, opts: &Options) -> Encoding {
    choose_measured(&Measured::of(text), opts)
}

/// Splits `text` in a given encoding: per-segment counts and split points.
pub fn layout(text: &str, encoding: Encoding, concat: ConcatRef) -> Result<Count, TextError> {
    split(text, &Measured::of(text), encoding, concat)
}

fn choose_measured(m: &Measured, opts: &Options) -> Encoding {
    let order: &[Encoding] = match opts.policy {
        Policy::Gsm7OrUcs2 => &[Encoding::Gsm7],
        Policy::TurkishSingleShift => &[Encoding::Gsm7, Encoding::Gsm7TurkishSingleShift],
        Policy::TurkishShift => return fewest_segments(m, opts.concat_ref),
    };
    // The first GSM alphabet of `order` that carries every character, else UCS-2.
    order
        .iter()
        .copied()
        .find(|&e| m.units(e).is_some())
        .unwrap_or(Encoding::Ucs2)
}

/// The encoding with the fewest segments; ties go to the earlier in [`Encoding::ALL`].
fn fewest_segments(m: &Measured, concat: ConcatRef) -> Encoding {
    let mut best: Option<(Encoding, usize)> = None;
    for e in Encoding::ALL {
        let Some(total) = m.units(e) else { continue };
        let multi = e.capacity(Some(concat));
        let segments = if total <= e.capacity(None) {
            1
        } else {
            let lower = total.div_ceil(multi);
            if best.is_some_and(|(_, s)| lower >= s) {
                continue; // a later encoding must need strictly fewer segments
            }
            // A pair pushed whole into the next segment wastes at most one unit per segment,
            // so when both bounds agree no greedy pass is needed.
            if total.div_ceil(multi - 1) == lower {
                lower
            } else {
                greedy_segments(&m.costs, e, multi)
            }
        };
        if best.is_none_or(|(_, s)| segments < s) {
            best = Some((e, segments));
        }
        if segments == 1 {
            break; // nothing beats one segment
        }
    }
    // UCS-2 carries any text, so `best` is always set; answer rather than panic.
    best.map_or(Encoding::Ucs2, |(e, _)| e)
}

/// Segments needed when concatenated: greedy, and a character never straddles two segments
/// (escape pairs, surrogate pairs).
fn greedy_segments(costs: &[u8], e: Encoding, multi: usize) -> usize {
    let shift = e.cost_shift();
    let (mut segments, mut used) = (1, 0);
    for &p in costs {
        let cost = usize::from((p >> shift) & 0b11);
        if used + cost > multi {
            segments += 1;
            used = cost;
        } else {
            used += cost;
        }
    }
    segments
}

fn split(
    text: &str,
    m: &Measured,
    encoding: Encoding,
    concat: ConcatRef,
) -> Result<Count, TextError> {
    let single = encoding.capacity(None);
    let multi = encoding.capacity(Some(concat));
    let chars = m.costs.len();
    let Some(total) = m.units(encoding) else {
        return Err(unencodable(text, m, encoding));
    };
    let mut count = Count {
        encoding,
        segments: 1,
        per_segment_chars: Vec::new(),
        per_segment_units: Vec::new(),
        split_points: Vec::new(),
        capacity_per_segment: single,
        total_chars: chars,
        total_units: total,
        remaining: 0,
        unit: encoding.unit(),
        dcs: encoding.dcs(),
        policy: Policy::default(),
        concat_ref: concat,
    };
    if total <= single {
        count.per_segment_chars.push(chars);
        count.per_segment_units.push(total);
        count.remaining = single - total;
        return Ok(count);
    }
    // Pairs moved whole can add a segment now and then: room for a few more than the bound.
    let expected = total.div_ceil(multi) + 2;
    count.per_segment_chars.reserve_exact(expected);
    count.per_segment_units.reserve_exact(expected);
    count.split_points.reserve_exact(expected);
    count.capacity_per_segment = multi;
    let shift = encoding.cost_shift();
    let (mut seg_chars, mut seg_units) = (0, 0);
    for (i, &p) in m.costs.iter().enumerate() {
        let cost = usize::from((p >> shift) & 0b11);
        if seg_units + cost > multi {
            count.per_segment_chars.push(seg_chars);
            count.per_segment_units.push(seg_units);
            count.split_points.push(i);
            (seg_chars, seg_units) = (0, 0);
        }
        seg_chars += 1;
        seg_units += cost;
    }
    count.per_segment_chars.push(seg_chars);
    count.per_segment_units.push(seg_units);
    count.segments = count.per_segment_chars.len();
    if count.segments > MAX_SEGMENTS {
        return Err(TextError::TooManySegments {
            encoding,
            segments: count.segments,
        });
    }
    count.remaining = multi - seg_units;
    Ok(count)
}

/// The error for the first character `encoding` cannot carry.
fn unencodable(text: &str, m: &Measured, encoding: Encoding) -> TextError {
    let shift = encoding.cost_shift();
    let position = m
        .costs
        .iter()
        .position(|p| (p >> shift) & 0b11 == 0)
        .unwrap_or(0);
    TextError::Unencodable {
        character: text.chars().nth(position).unwrap_or('\u{FFFD}'),
        position,
        encoding,
    }
}
