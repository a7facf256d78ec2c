//! Counting and splitting. The text is decoded from UTF-8 once into one packed cost byte per
//! character (see [`packed_costs`]); choosing the encoding and splitting then read only bytes.

use crate::TextError;
use crate::alphabet::packed_costs;
use crate::segment::{ConcatRef, Count, Encoding, MAX_SEGMENTS, Options, Policy};

/// Characters whose costs (at most 3 each) surely fit a 16-bit lane.
const LANE_SAFE_CHARS: usize = 0xFFFF / 3;

/// A packed cost byte spread into 16-bit lanes: lanes 0-3 hold its cost in each encoding,
/// lanes 4-7 hold 1 where that encoding cannot carry it.
static SPREAD: [u128; 256] = spread_table();

const fn spread_table() -> [u128; 256] {
    let mut t = [0u128; 256];
    let mut p = 0;
    while p < 256 {
        let mut k = 0;
        while k < 4 {
            let cost = (p >> (2 * k)) & 0b11;
            t[p] |= (cost as u128) << (16 * k);
            if cost == 0 {
                t[p] |= 1 << (16 * (k + 4));
            }
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
            decode_costs(text)
        };
        // Sum the four 2-bit fields of every byte at once, and count the characters each
        // encoding cannot carry, in 16-bit lanes of a u128 (SWAR); lanes are emptied before
        // they could overflow.
        let mut sums = [0usize; 8];
        for chunk in costs.chunks(LANE_SAFE_CHARS) {
            let lanes: u128 = chunk.iter().map(|&p| SPREAD[usize::from(p)]).sum();
            for (k, sum) in sums.iter_mut().enumerate() {
                *sum += ((lanes >> (16 * k)) & 0xFFFF) as usize;
            }
        }
        let units = [0, 1, 2, 3].map(|k| (sums[4 + k] == 0).then_some(sums[k]));
        Measured { costs, units }
    }

    fn units(&self, e: Encoding) -> Option<usize> {
        self.units[(e.cost_shift() / 2) as usize]
    }
}

/// One cost byte per code point. Turkish text is ASCII plus two-byte sequences (ş, ğ, ı, İ, ç,
/// ö, ü): those are decoded inline; longer sequences go through the standard decoder.
fn decode_costs(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    // Code points never outnumber bytes: fill a byte-sized buffer, then trim it.
    let mut costs = vec![0u8; bytes.len()];
    let (mut i, mut n) = (0, 0);
    while let Some(&b) = bytes.get(i) {
        let p = if b < 0x80 {
            i += 1;
            packed_costs(char::from(b))
        } else if b < 0xE0 {
            // `text` is valid UTF-8, so a lead byte below 0xE0 starts a two-byte sequence.
            let next = bytes.get(i + 1).map_or(0, |&c| u32::from(c & 0x3F));
            i += 2;
            char::from_u32((u32::from(b & 0x1F) << 6) | next).map_or(0, packed_costs)
        } else {
            let Some(c) = text.get(i..).and_then(|rest| rest.chars().next()) else {
                break;
            };
            i += c.len_utf8();
            packed_costs(c)
        };
        if let Some(slot) = costs.get_mut(n) {
            *slot = p;
        }
        n += 1;
    }
    costs.truncate(n);
    costs
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
    if total == chars {
        // Every character is one unit: segments are full runs of `multi`, no walk needed.
        let full = chars / multi;
        let last = chars - full * multi;
        let segments = if last == 0 { full } else { full + 1 };
        if segments > MAX_SEGMENTS {
            return Err(TextError::TooManySegments { encoding, segments });
        }
        count.per_segment_chars.resize(full, multi);
        count.per_segment_units.resize(full, multi);
        if last > 0 {
            count.per_segment_chars.push(last);
            count.per_segment_units.push(last);
        }
        count.split_points.extend((1..segments).map(|k| k * multi));
        count.segments = segments;
        count.remaining = multi - count.per_segment_units[segments - 1];
        return Ok(count);
    }
    let shift = encoding.cost_shift();
    let cost = |p: &u8| usize::from((p >> shift) & 0b11);
    let costs = &m.costs;
    let (mut i, mut seg_units) = (0, 0);
    while i < costs.len() {
        let start = i;
        seg_units = 0;
        // Greedy fill: characters cost at most 2, so room/2 of them surely fit and are summed
        // as a block; only the last unit of room is decided character by character.
        loop {
            let room = multi - seg_units;
            let take = (room / 2).min(costs.len() - i);
            if take > 0 {
                seg_units += costs[i..i + take].iter().map(cost).sum::<usize>();
                i += take;
            } else if room == 1 && costs.get(i).map(cost) == Some(1) {
                seg_units += 1;
                i += 1;
            } else {
                break;
            }
        }
        if start > 0 {
            count.split_points.push(start);
        }
        count.per_segment_chars.push(i - start);
        count.per_segment_units.push(seg_units);
    }
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
