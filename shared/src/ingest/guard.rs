//! Zip checks made before calamine sees an xlsx upload.
//!
//! calamine trusts the archive: it loads the shared strings whole, reserving
//! room for as many as `uniqueCount` claims (a 6 KB file claiming two billion
//! aborts the process), and inflates whatever a part decompresses to. So the
//! central directory is read first, and the file refused as `unsafe_file` when
//! it holds too many parts, expands to too much in total, has a part that
//! expands suspiciously far, or whose shared-strings count is out of bounds.
//! The zip crate fails a part that inflates past its declared size, so the
//! declared sizes checked here bound what calamine can be made to read.
//! Within those bounds one value can still be huge (a 64 MiB cell packs into
//! 0.7 MB and passes the ratio check): the parts' XML is then streamed
//! through `markup.rs`, which bounds each value and counts the shared strings.
//! [`inspect`] is the one place every xlsx read passes: `ingest::open`, which
//! the plan step uses, calls it before calamine opens the file. The upload
//! route only confirms the format ([`check_xlsx`]): a refused file is a failed
//! import with its code (API.md), and inflating at upload would put that work
//! in the API process of a cluster node.

use super::UnsupportedFormat;
use super::markup::{self, MAX_SHARED_STRINGS_BYTES, Targets, looks_like_xml};
use crate::model::FileError;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use zip::ZipArchive;

/// Most parts an xlsx may hold (a workbook with a few sheets holds about 15).
const MAX_ENTRIES: usize = 10_000;
/// Most bytes all parts may expand to together.
const MAX_TOTAL_BYTES: u64 = 2 << 30;
/// Highest expansion ratio of a part over [`RATIO_FLOOR`] bytes; real sheets
/// stay well under 100.
const MAX_RATIO: u64 = 200;
const RATIO_FLOOR: u64 = 1 << 20;
/// Most shared strings a workbook may announce...
const MAX_UNIQUE_STRINGS: u64 = 4_000_000;
/// ...and at most one per this many bytes of its part (`<si><t/></si>` is 13)
/// once past [`UNIQUE_STRINGS_FLOOR`].
const BYTES_PER_STRING: u64 = 4;
const UNIQUE_STRINGS_FLOOR: u64 = 65_536;
/// Bytes of a worksheet cell that uses a shared string, at the least.
const BYTES_PER_STRING_CELL: u64 = 16;
/// How much of a part is read to tell whether it is XML.
const XML_PEEK_BYTES: u64 = 512;
/// How much of the shared-strings part is read to find its `<sst>` element.
const SST_PEEK_BYTES: u64 = 64 * 1024;

type Archive = ZipArchive<BufReader<File>>;

fn archive(path: &Path) -> Result<Archive, String> {
    let file = File::open(path).map_err(|e| format!("the file could not be opened: {e}"))?;
    ZipArchive::new(BufReader::new(file)).map_err(|e| format!("not a readable zip archive: {e}"))
}

/// Ok if the zip at `path` is an xlsx workbook (holds `xl/workbook.xml`).
pub(super) fn check_xlsx(path: &Path) -> Result<(), UnsupportedFormat> {
    let zip = archive(path).map_err(|e| UnsupportedFormat(format!("the file is {e}")))?;
    let has_workbook = zip.file_names().filter_map(Result::ok).any(|name| {
        name.trim_start_matches('/')
            .eq_ignore_ascii_case("xl/workbook.xml")
    });
    if has_workbook {
        Ok(())
    } else {
        Err(UnsupportedFormat(
            "the file is a zip archive but not an Excel workbook (it has no xl/workbook.xml); \
             upload CSV, JSON or an Excel workbook (.xlsx)"
                .into(),
        ))
    }
}

/// Refuses (`unsafe_file`) an xlsx whose zip could make calamine exhaust memory.
pub(super) fn inspect(path: &Path) -> Result<(), FileError> {
    let mut zip =
        archive(path).map_err(|e| FileError::Unreadable(format!("the spreadsheet is {e}")))?;
    if zip.len() > MAX_ENTRIES {
        return Err(unsafe_file(format!(
            "it holds {} parts; at most {MAX_ENTRIES} are accepted",
            zip.len()
        )));
    }
    if zip.has_duplicate_names() {
        return Err(unsafe_file(
            "its zip archive holds two parts with the same name".into(),
        ));
    }
    let mut total: u64 = 0;
    let mut shared_strings = Vec::new();
    let mut strings_bytes: u64 = 0;
    for index in 0..zip.len() {
        let entry = zip.by_index_data(index).map_err(|e| {
            FileError::Unreadable(format!("the spreadsheet's zip archive is broken: {e}"))
        })?;
        let name = entry.name().map(|n| n.into_owned()).unwrap_or_default();
        let (size, packed) = (entry.size(), entry.compressed_size());
        total = total.saturating_add(size);
        if size > RATIO_FLOOR && size / packed.max(1) > MAX_RATIO {
            return Err(unsafe_file(format!(
                "its part '{name}' expands {} times ({size} bytes from {packed}); \
                 at most {MAX_RATIO} times is accepted",
                size / packed.max(1)
            )));
        }
        if is_shared_strings(&name) {
            if size > MAX_SHARED_STRINGS_BYTES {
                return Err(unsafe_file(format!(
                    "its shared strings ('{name}') expand to {size} bytes; \
                     at most {MAX_SHARED_STRINGS_BYTES} are accepted"
                )));
            }
            strings_bytes = strings_bytes.saturating_add(size);
            shared_strings.push((index, name, size));
        }
    }
    if total > MAX_TOTAL_BYTES {
        return Err(unsafe_file(format!(
            "it expands to {total} bytes; at most {MAX_TOTAL_BYTES} are accepted"
        )));
    }
    for (index, name, size) in shared_strings {
        check_shared_strings(&mut zip, index, &name, size)?;
    }
    // Every shared string the sheets use takes a cell of at least
    // `<c t="s"><v>0</v></c>` in them: more strings than that are padding.
    let sheets_bytes = total.saturating_sub(strings_bytes);
    let max_strings =
        MAX_UNIQUE_STRINGS.min(UNIQUE_STRINGS_FLOOR.max(sheets_bytes / BYTES_PER_STRING_CELL));
    scan_parts(&mut zip, max_strings)
}

fn is_shared_strings(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with("sharedstrings.xml")
}

/// Scans the parts' XML for what calamine would hold at once (`markup.rs`):
/// first the parts named or starting as XML, which include the relationships;
/// then the others, unless the relationships say calamine never reads them
/// (images, embedded objects), since any part may be named a worksheet.
fn scan_parts(zip: &mut Archive, max_strings: u64) -> Result<(), FileError> {
    let mut targets = Targets::default();
    let mut later = Vec::new();
    for index in 0..zip.len() {
        if !scan_part(zip, index, max_strings, &mut targets, false)? {
            later.push(index);
        }
    }
    for index in later {
        scan_part(zip, index, max_strings, &mut targets, true)?;
    }
    Ok(())
}

/// Scans part `index`; false when it was left for the `last` pass.
fn scan_part(
    zip: &mut Archive,
    index: usize,
    max_strings: u64,
    targets: &mut Targets,
    last: bool,
) -> Result<bool, FileError> {
    let mut part = zip.by_index(index).map_err(|e| {
        FileError::Unreadable(format!("the spreadsheet's zip archive is broken: {e}"))
    })?;
    let name = part.name().map(|n| n.into_owned()).unwrap_or_default();
    let broken = |e: std::io::Error| {
        FileError::Unreadable(format!("the spreadsheet's part '{name}' is broken: {e}"))
    };
    if part.is_dir() {
        return Ok(true);
    }
    let lower = name.to_ascii_lowercase();
    let mut start = Vec::with_capacity(XML_PEEK_BYTES as usize);
    (&mut part)
        .take(XML_PEEK_BYTES)
        .read_to_end(&mut start)
        .map_err(broken)?;
    let xml = lower.ends_with(".xml") || lower.ends_with(".rels") || looks_like_xml(&start);
    if !last && !xml {
        return Ok(false);
    }
    if last && targets.only_binary(&name) {
        return Ok(true);
    }
    let about = markup::Part {
        name: &name,
        shared_strings: is_shared_strings(&name),
        max_strings,
    };
    markup::scan(std::io::Cursor::new(start).chain(part), &about, targets)?;
    Ok(true)
}

pub(super) fn unsafe_file(why: String) -> FileError {
    FileError::Unsafe(format!("the spreadsheet is refused as unsafe: {why}"))
}

/// Reads the start of a shared-strings part and bounds its `uniqueCount`.
/// (`count`, the number of uses, is not reserved by calamine and may be large.)
fn check_shared_strings(
    zip: &mut Archive,
    index: usize,
    name: &str,
    size: u64,
) -> Result<(), FileError> {
    let mut head = Vec::new();
    zip.by_index(index)
        .and_then(|part| Ok(part.take(SST_PEEK_BYTES).read_to_end(&mut head)?))
        .map_err(|e| {
            FileError::Unreadable(format!("the spreadsheet's part '{name}' is broken: {e}"))
        })?;
    let Some(tag) = sst_tag(&head) else {
        return Err(unsafe_file(format!(
            "its part '{name}' does not start with an <sst> element"
        )));
    };
    let Some(value) = attribute(tag, b"uniqueCount") else {
        return Ok(());
    };
    let digits = value.trim_ascii();
    let digits = digits.strip_prefix(b"+").unwrap_or(digits);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Ok(()); // calamine ignores a count it cannot parse
    }
    let limit = MAX_UNIQUE_STRINGS.min(UNIQUE_STRINGS_FLOOR.max(size / BYTES_PER_STRING));
    let count = std::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse::<u64>().ok())
        .unwrap_or(u64::MAX);
    if count > limit {
        return Err(unsafe_file(format!(
            "its part '{name}' announces {} shared strings; at most {limit} are accepted",
            String::from_utf8_lossy(digits)
        )));
    }
    Ok(())
}

/// The `<sst ...>` start tag (any namespace prefix), without its brackets.
fn sst_tag(xml: &[u8]) -> Option<&[u8]> {
    let mut from = 0;
    while let Some(at) = find(&xml[from..], b"sst").map(|i| i + from) {
        from = at + 3;
        let opens = match xml[..at].last() {
            Some(b'<') => true,
            Some(b':') => {
                // `<x:sst`: a prefix of name characters right after a `<`.
                let prefix = xml[..at - 1]
                    .iter()
                    .rev()
                    .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
                    .count();
                prefix > 0 && at > prefix + 1 && xml[at - 2 - prefix] == b'<'
            }
            _ => false,
        };
        let ends_name = matches!(
            xml.get(at + 3),
            Some(b' ' | b'\t' | b'\r' | b'\n' | b'>' | b'/')
        );
        if opens && ends_name {
            let end = find(&xml[at..], b">")? + at;
            return Some(&xml[at + 3..end]);
        }
    }
    None
}

/// The value of attribute `name` inside a start tag's bytes.
pub(super) fn attribute<'a>(tag: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let mut from = 0;
    while let Some(at) = find(&tag[from..], name).map(|i| i + from) {
        from = at + name.len();
        let starts = at > 0 && tag[at - 1].is_ascii_whitespace();
        let rest = tag[from..].trim_ascii_start();
        let (true, Some(rest)) = (starts, rest.strip_prefix(b"=")) else {
            continue;
        };
        let rest = rest.trim_ascii_start();
        let quote = *rest.first()?;
        if quote != b'"' && quote != b'\'' {
            return None;
        }
        let value = &rest[1..];
        return value
            .iter()
            .position(|&b| b == quote)
            .map(|end| &value[..end]);
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
