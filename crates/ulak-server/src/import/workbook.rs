//! Checks an XLSX workbook's parts before calamine reads it, so that a zip bomb or a crafted
//! part is refused before it is unpacked.
//!
//! calamine reads some parts whole when it opens a workbook: the shared strings (first
//! reserving room for as many as the table claims), the styles (copying a font name and a
//! number format into every cell format), the workbook and its relationships. Only the sheet
//! is streamed, and even there one cell is held whole. The zip reader refuses to unpack an
//! entry beyond the size the central directory declares for it, so those declared sizes,
//! checked here without unpacking anything, bound what each part can become; the parts whose
//! content decides calamine's memory are then read once here, as a stream, and counted.

use std::fs::File;
use std::io::{BufReader, Read};

use quick_xml::events::{BytesStart, Event};
use tokio_util::sync::CancellationToken;
use zip::ZipArchive;

use super::table::TableError;

/// Most bytes the parts of a workbook unpack to together.
pub const MAX_UNPACKED_BYTES: u64 = 512 << 20;
/// Most bytes the shared strings table unpacks to.
pub const MAX_SHARED_STRINGS_BYTES: u64 = 64 << 20;
/// Most strings in the shared strings table (as many as the rows an import may have).
pub const MAX_SHARED_STRINGS: u64 = 1_000_000;
/// Most bytes any other XML part (the workbook, relationships, theme) unpacks to; calamine
/// reads those it needs whole. Other parts (pictures) only count towards the total.
pub const MAX_PART_BYTES: u64 = 16 << 20;
/// Most parts in a workbook.
pub const MAX_PARTS: usize = 10_000;
/// Most cell formats in the styles (Excel's own limit is 64,000).
pub const MAX_CELL_FORMATS: u64 = 64_000;
/// Longest font name or number format in the styles, in bytes as written (Excel allows 31
/// and 255 characters).
pub const MAX_STYLE_TEXT_BYTES: usize = 512;
/// Longest stretch of a worksheet between `<` and `>` (a tag, or a text): calamine holds one
/// whole, and a cell's text is at most 8 KiB anyway.
pub const MAX_SHEET_TOKEN_BYTES: usize = 1 << 20;

/// What a part is, by its name (lower case, `/` separated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    SharedStrings,
    Styles,
    Worksheet,
    /// Another XML part.
    Other,
    /// Not XML (a picture, a printer setting): calamine does not read it.
    Binary,
}

impl Part {
    fn of(name: &str) -> Part {
        if name.ends_with("sharedstrings.xml") {
            Part::SharedStrings
        } else if name.ends_with("styles.xml") {
            Part::Styles
        } else if name.contains("worksheets/")
            && !name.ends_with(".rels")
            && !name.ends_with("workbook.xml")
        {
            Part::Worksheet
        } else if name.ends_with(".xml") || name.ends_with(".rels") {
            Part::Other
        } else {
            Part::Binary
        }
    }

    /// The most its declared size may be.
    fn limit(self) -> u64 {
        match self {
            Part::SharedStrings => MAX_SHARED_STRINGS_BYTES,
            Part::Worksheet | Part::Binary => MAX_UNPACKED_BYTES,
            Part::Styles | Part::Other => MAX_PART_BYTES,
        }
    }

    /// How the part is named in a refusal; `name` is cut short (it comes from the file).
    fn describe(self, name: &str) -> String {
        match self {
            Part::SharedStrings => "the shared strings".to_owned(),
            Part::Styles => "the styles".to_owned(),
            Part::Worksheet | Part::Other | Part::Binary => {
                let short: String = name.chars().take(80).collect();
                format!("the part {short:?}")
            }
        }
    }
}

fn mib(n: u64) -> u64 {
    n >> 20
}

fn broken(e: impl std::fmt::Display) -> TableError {
    TableError::Xlsx(e.to_string())
}

/// Checks the workbook in `file` (at any position; it is read from the start): the declared
/// sizes, then the shared strings, the styles and the worksheets as streams. `TooLarge` when
/// a limit is passed, `Xlsx` when the file is not a readable workbook, `Stopped` when `stop`
/// fires.
pub fn check(file: &mut File, stop: &CancellationToken) -> Result<(), TableError> {
    let mut zip = ZipArchive::new(&mut *file).map_err(broken)?;
    if zip.len() > MAX_PARTS {
        return Err(TableError::TooLarge(format!(
            "the workbook has {} parts, at most {MAX_PARTS} are allowed",
            zip.len()
        )));
    }
    let mut total = 0u64;
    let mut scan = Vec::new();
    for i in 0..zip.len() {
        // `by_index_raw` reads the entry's header only; nothing is unpacked.
        let entry = zip.by_index_raw(i).map_err(broken)?;
        let name = entry
            .name()
            .map_err(broken)?
            .to_lowercase()
            .replace('\\', "/");
        let part = Part::of(&name);
        let size = entry.size();
        if size > part.limit() {
            return Err(TableError::TooLarge(format!(
                "{} of the workbook unpack to {} MiB, at most {} MiB are allowed",
                part.describe(&name),
                mib(size),
                mib(part.limit())
            )));
        }
        total = total.saturating_add(size);
        if matches!(part, Part::SharedStrings | Part::Styles | Part::Worksheet) {
            scan.push((i, part));
        }
    }
    if total > MAX_UNPACKED_BYTES {
        return Err(TableError::TooLarge(format!(
            "the workbook unpacks to {} MiB, at most {} MiB are allowed",
            mib(total),
            mib(MAX_UNPACKED_BYTES)
        )));
    }
    for (i, part) in scan {
        let entry = zip.by_index(i).map_err(broken)?;
        let reader = BufReader::with_capacity(64 * 1024, entry);
        match part {
            Part::SharedStrings => shared_strings(reader, stop)?,
            Part::Styles => styles(reader, stop)?,
            Part::Worksheet => tokens(reader, stop)?,
            Part::Other | Part::Binary => {}
        }
    }
    Ok(())
}

/// An XML reader configured like calamine's (empty elements count as elements).
fn xml<R: std::io::BufRead>(r: R) -> quick_xml::Reader<R> {
    let mut x = quick_xml::Reader::from_reader(r);
    let config = x.config_mut();
    config.check_end_names = false;
    config.trim_text(false);
    x
}

/// The value of the attribute whose local name is `name`.
fn attr(e: &BytesStart<'_>, name: &str) -> Result<Option<String>, TableError> {
    for a in e.attributes().with_checks(false) {
        let a = a.map_err(broken)?;
        if a.key.local_name().as_ref() == name {
            return Ok(Some(a.value.into_owned()));
        }
    }
    Ok(None)
}

/// Walks the XML of `r`, calling `on_start` for every element; checks `stop` as it goes.
fn walk<R: std::io::BufRead>(
    r: R,
    stop: &CancellationToken,
    mut on_start: impl FnMut(&BytesStart<'_>) -> Result<(), TableError>,
) -> Result<(), TableError> {
    let mut x = xml(r);
    let mut buf = Vec::new();
    let mut events = 0u32;
    loop {
        buf.clear();
        match x.read_event_into(&mut buf).map_err(broken)? {
            Event::Start(e) | Event::Empty(e) => on_start(&e)?,
            Event::Eof => return Ok(()),
            _ => {}
        }
        events = events.wrapping_add(1);
        if events.is_multiple_of(4096) && stop.is_cancelled() {
            return Err(TableError::Stopped);
        }
    }
}

/// The shared strings: at most [`MAX_SHARED_STRINGS`], both as the table claims (calamine
/// reserves room for the claim) and as counted.
fn shared_strings<R: std::io::BufRead>(r: R, stop: &CancellationToken) -> Result<(), TableError> {
    let too_many = |n: u64| {
        TableError::TooLarge(format!(
            "the shared strings of the workbook hold {n} strings or more, at most \
             {MAX_SHARED_STRINGS} are allowed"
        ))
    };
    let mut count = 0u64;
    walk(r, stop, |e| {
        match e.local_name().as_ref() {
            "sst" => {
                for claim in ["uniqueCount", "count"] {
                    if let Some(v) = attr(e, claim)? {
                        // Any number calamine could read counts, however written.
                        let n = v.trim().parse::<u64>().unwrap_or(u64::MAX);
                        if n > MAX_SHARED_STRINGS && claim == "uniqueCount" {
                            return Err(too_many(n));
                        }
                    }
                }
            }
            "si" => {
                count += 1;
                if count > MAX_SHARED_STRINGS {
                    return Err(too_many(count));
                }
            }
            _ => {}
        }
        Ok(())
    })
}

/// The styles: calamine copies a font name and a number format into each cell format, so
/// their number and lengths are bounded.
fn styles<R: std::io::BufRead>(r: R, stop: &CancellationToken) -> Result<(), TableError> {
    let mut formats = 0u64;
    walk(r, stop, |e| {
        let text = match e.local_name().as_ref() {
            "xf" => {
                formats += 1;
                if formats > MAX_CELL_FORMATS {
                    return Err(TableError::TooLarge(format!(
                        "the styles of the workbook have more than {MAX_CELL_FORMATS} cell formats"
                    )));
                }
                return Ok(());
            }
            "name" => attr(e, "val")?,
            "numFmt" => attr(e, "formatCode")?,
            _ => None,
        };
        match text {
            Some(t) if t.len() > MAX_STYLE_TEXT_BYTES => Err(TableError::TooLarge(format!(
                "the styles of the workbook have a font name or number format longer than \
                 {MAX_STYLE_TEXT_BYTES} bytes"
            ))),
            _ => Ok(()),
        }
    })
}

/// A worksheet: no stretch between `<` and `>` longer than [`MAX_SHEET_TOKEN_BYTES`].
fn tokens(mut r: impl Read, stop: &CancellationToken) -> Result<(), TableError> {
    let mark = |b: &u8| *b == b'<' || *b == b'>';
    let mut buf = vec![0u8; 64 * 1024];
    // Bytes since the last mark, carried from piece to piece; a piece is shorter than the
    // limit, so only a stretch crossing pieces can pass it.
    let mut run = 0usize;
    loop {
        let n = r.read(&mut buf).map_err(broken)?;
        if n == 0 {
            return Ok(());
        }
        let piece = &buf[..n];
        match (piece.iter().position(mark), piece.iter().rposition(mark)) {
            (Some(first), Some(last)) => {
                run += first;
                if run <= MAX_SHEET_TOKEN_BYTES {
                    run = n - last - 1;
                }
            }
            _ => run += n,
        }
        if run > MAX_SHEET_TOKEN_BYTES {
            return Err(TableError::TooLarge(format!(
                "a worksheet of the workbook has a cell or tag longer than {} MiB",
                MAX_SHEET_TOKEN_BYTES >> 20
            )));
        }
        if stop.is_cancelled() {
            return Err(TableError::Stopped);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_sheet_token_longer_than_the_limit_is_refused_across_pieces() {
        let stop = CancellationToken::new();
        let mut sheet = b"<row><c><v>".to_vec();
        sheet.extend(std::iter::repeat_n(b'7', MAX_SHEET_TOKEN_BYTES + 1));
        sheet.extend(b"</v></c></row>");
        assert!(matches!(
            tokens(&sheet[..], &stop),
            Err(TableError::TooLarge(_))
        ));
        let fine: Vec<u8> = b"<c><v>1</v></c>".repeat(200_000);
        assert!(tokens(&fine[..], &stop).is_ok());
    }

    #[test]
    fn a_claimed_shared_string_count_is_checked_before_any_string() {
        let stop = CancellationToken::new();
        let xml =
            br#"<?xml version="1.0"?><x:sst xmlns:x="s" uniqueCount="4000000000000"></x:sst>"#;
        let e = shared_strings(&xml[..], &stop).unwrap_err();
        assert!(e.to_string().contains("shared strings"), "{e}");
        let ok = br#"<sst uniqueCount="2"><si><t>a</t></si><si/></sst>"#;
        assert!(shared_strings(&ok[..], &stop).is_ok());
    }
}
