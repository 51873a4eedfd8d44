//! The CSV reader: decodes the file (see `text.rs`), normalizes line ends and
//! bounds records (see `lines.rs`), detects the delimiter (comma, semicolon or
//! tab) from the header line, and parses RFC 4180 records with the `csv` crate.
//!
//! Rows are numbered as a spreadsheet shows the file: one record is one row
//! even when a quoted cell spans lines, and skipped blank lines and wholly
//! empty records keep their numbers. Since every record ends in exactly one
//! `\n` after normalization, the parser's line count after a record, minus the
//! line feeds inside its cells, tells how many blank lines came before it.

use super::lines::{Newlines, RecordGuard};
use super::row::Draft;
use super::text::Utf8Text;
use super::{header, unreadable};
use crate::model::{FileError, Layout, Record};
use csv::StringRecord;
use std::fs::File;
use std::io::{Chain, Cursor, Read};
use std::path::Path;

/// How much of the file's start is looked at to find the delimiter.
const PEEK_BYTES: usize = 64 * 1024;
/// The delimiters a header line may use, in order of preference on a tie.
const DELIMITERS: [u8; 3] = [b',', b';', b'\t'];

type Source = RecordGuard<Chain<Cursor<Vec<u8>>, Newlines<Utf8Text<File>>>>;

/// The records after the header of a CSV file.
pub(super) struct CsvRows {
    csv: csv::Reader<Source>,
    record: StringRecord,
    layout: Layout,
    /// The parser's line count after the previous record (1 before any).
    lines_seen: u64,
    /// The row number of the previous record (0 before any).
    row: u32,
}

/// Opens a CSV file and reads its header: the layout, the header cells as written, the rows.
pub(super) fn open(path: &Path) -> Result<(Layout, Vec<String>, CsvRows), FileError> {
    let file = File::open(path).map_err(|e| unreadable(&e))?;
    let mut text = Newlines::new(Utf8Text::new(file).map_err(|e| unreadable(&e))?);
    let peek = peek(&mut text);
    let delimiter = delimiter(&peek);
    let source = RecordGuard::new(Cursor::new(peek).chain(text), delimiter);
    let csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .buffer_capacity(PEEK_BYTES)
        .from_reader(source);
    let mut rows = CsvRows {
        csv,
        record: StringRecord::new(),
        layout: Layout::Full,
        lines_seen: 1,
        row: 0,
    };
    // The header is the first record with something in it.
    while rows.next_record()?.is_some() {
        let cells = header::clean(rows.record.iter());
        if !cells.is_empty() {
            rows.layout = header::recognize(&cells)?;
            return Ok((rows.layout, cells, rows));
        }
    }
    Err(FileError::EmptyFile("the file is empty".into()))
}

/// Up to [`PEEK_BYTES`] of the text's start. A decoding error stops the peek
/// quietly: it comes back when the parser reaches it, after the good records.
fn peek(text: &mut impl Read) -> Vec<u8> {
    let mut peek = vec![0; PEEK_BYTES];
    let mut len = 0;
    while len < PEEK_BYTES {
        match text.read(&mut peek[len..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => len += n,
        }
    }
    peek.truncate(len);
    peek
}

/// The delimiter of the first line with content (not only spaces, quotes and
/// delimiters) of `text`: the one it uses most outside quotes, a comma if none.
fn delimiter(text: &[u8]) -> u8 {
    let mut counts = [0usize; DELIMITERS.len()];
    let mut quoted = false;
    let mut content = false;
    for &byte in text {
        match byte {
            b'"' => quoted = !quoted,
            b'\n' if !quoted && content => break,
            b'\n' if !quoted => counts = [0; DELIMITERS.len()],
            _ if quoted => {}
            _ => {
                if let Some(i) = DELIMITERS.iter().position(|&d| d == byte) {
                    counts[i] += 1;
                }
            }
        }
        content |= !byte.is_ascii_whitespace() && byte != b'"' && !DELIMITERS.contains(&byte);
    }
    let best = (0..DELIMITERS.len())
        .rev()
        .max_by_key(|&i| counts[i])
        .unwrap_or(0);
    if counts[best] == 0 {
        b','
    } else {
        DELIMITERS[best]
    }
}

impl CsvRows {
    /// Reads the next record into `self.record`; its row number, or `None` at the end.
    fn next_record(&mut self) -> Result<Option<u32>, FileError> {
        let more = self
            .csv
            .read_record(&mut self.record)
            .map_err(|e| match e.kind() {
                csv::ErrorKind::Io(io) => unreadable(io),
                _ => FileError::Unreadable(format!("the CSV file could not be read: {e}")),
            })?;
        if !more {
            return Ok(None);
        }
        let end_line = self.csv.position().line();
        let inner_breaks: u64 = self
            .record
            .iter()
            .map(|field| field.bytes().filter(|&b| b == b'\n').count() as u64)
            .sum();
        let start_line = end_line.saturating_sub(inner_breaks + 1);
        let blank_lines = start_line.saturating_sub(self.lines_seen);
        self.lines_seen = end_line;
        let skipped = u32::try_from(blank_lines).unwrap_or(u32::MAX);
        self.row = self.row.saturating_add(1).saturating_add(skipped);
        Ok(Some(self.row))
    }
}

impl Iterator for CsvRows {
    type Item = Result<Record, FileError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let row = match self.next_record() {
                Ok(Some(row)) => row,
                Ok(None) => return None,
                Err(e) => return Some(Err(e)),
            };
            let mut draft = Draft::new(self.layout);
            for (index, field) in self.record.iter().enumerate() {
                draft.set(index, field);
            }
            if let Some(record) = draft.finish(row) {
                return Some(Ok(record));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_line_tells_the_delimiter() {
        assert_eq!(delimiter(b"Name,Email,Password\n"), b',');
        assert_eq!(delimiter(b"\n\n  \nName;Email;Password\nA,B,C;D\n"), b';');
        assert_eq!(delimiter(b"Name\tEmail\t\"a;b;c\"\n"), b'\t');
        assert_eq!(delimiter(b"Name\n"), b',');
        assert_eq!(delimiter(b"\t\t\t\n,,,,\nName;Email;Password\n"), b';');
        assert_eq!(delimiter(b""), b',');
    }
}
