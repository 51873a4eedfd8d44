//! Reading import files (CSV, JSON, xlsx) as one stream of records.
//!
//! This module owns everything between an upload's bytes and [`Record`]s:
//! telling the format from the first bytes ([`sniff`], [`check_xlsx`]),
//! decoding text, recognising the header's layout, and reading rows in file
//! order with spreadsheet row numbers. The rule it keeps: memory does not grow
//! with the file (readers stream; only calamine's shared strings are held
//! whole, after the zip has been checked and every XML part scanned for
//! cells over 32,767 characters and for too many shared strings, in constant
//! memory), and no input makes it panic or
//! abort; a bad file ends as a [`FileError`], a bad cell as a row's
//! [`FieldError`](crate::model::FieldError).
//!
//! - `sniff.rs`: the format from the first bytes
//! - `text.rs`: text encodings to UTF-8; `lines.rs`: line ends and record bounds
//! - `header.rs`: the header row's layout; `row.rs`: a record's cells
//! - `csv.rs`, `json/`, `xlsx.rs` (+ `cell.rs`, `guard.rs`, `markup.rs`): the three readers

mod cell;
mod csv;
mod guard;
mod header;
mod json;
mod lines;
mod markup;
mod row;
mod sniff;
#[cfg(test)]
mod tests;
mod text;
mod xlsx;

use crate::model::{FileError, Format, Layout, Record};
use std::path::Path;

/// How many leading bytes [`sniff`] wants to see.
pub const SNIFF_BYTES: usize = 8192;

/// An upload that is none of CSV, JSON or xlsx (HTTP 415 `unsupported_format`).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UnsupportedFormat(pub String);

/// A JSON value as the cell it would be in a JSON import file (`true` is
/// `Yes`, numbers as written, `null` empty), or the kind of value it is when no
/// cell can hold it: one reading for files and for single requests.
pub fn json_cell(value: &serde_json::Value) -> Result<std::borrow::Cow<'_, str>, &'static str> {
    json::text(value)
}

/// The upload's format, told from its first bytes (up to [`SNIFF_BYTES`];
/// `prefix` may be shorter when the file is).
///
/// A zip (`PK\x03\x04`) is xlsx, to be confirmed with [`check_xlsx`] once the
/// whole file is stored. Text whose first non-space character (after any BOM)
/// is `[` or `{` is JSON; other text (no NUL bytes, UTF-8, UTF-16 with BOM or
/// Windows-1252) is CSV; an empty upload is CSV too (and then `empty_file`).
/// PDF, old `.xls`, images, archives and other binary data are refused.
pub fn sniff(prefix: &[u8]) -> Result<Format, UnsupportedFormat> {
    sniff::sniff(prefix)
}

/// For a zip upload stored at `path`: Ok if it is an xlsx workbook (holds
/// `xl/workbook.xml`), else [`UnsupportedFormat`].
pub fn check_xlsx(path: &Path) -> Result<(), UnsupportedFormat> {
    guard::check_xlsx(path)
}

/// The layout a header row's cells tell, with the cells as the result
/// spreadsheet shows them (trimmed, each capped, trailing empty cells
/// dropped), or `bad_header` naming the first column that differs.
///
/// The CSV and xlsx readers apply the same rules to their first row with a
/// value; this entry point lets them be exercised on their own (fuzz/).
pub fn recognize_header<'a>(
    cells: impl IntoIterator<Item = &'a str>,
) -> Result<(Layout, Vec<String>), FileError> {
    let cells = header::clean(cells);
    let layout = header::recognize(&cells)?;
    Ok((layout, cells))
}

/// Opens a stored upload, reads its header and tells the layout.
///
/// Blocking I/O: call it from a blocking thread. Fails with `bad_header`,
/// `empty_file` (nothing, or no header), `unreadable_file`, or for xlsx
/// `unsafe_file` (zip bombs, a cell over 32,767 characters, too many shared
/// strings: checked by streaming the zip before calamine reads it).
/// JSON files have no header row: their layout is always the full one, with
/// Password Hash ([`Layout::Hashed`]).
pub fn open(path: &Path, format: Format) -> Result<Reader, FileError> {
    let (layout, header, rows) = match format {
        Format::Csv => {
            let (layout, header, rows) = csv::open(path)?;
            (layout, header, Rows::Csv(Box::new(rows)))
        }
        Format::Json => (
            Layout::Hashed,
            header::full_columns(),
            Rows::Json(Box::new(json::open(path)?)),
        ),
        Format::Xlsx => {
            let (layout, header, rows) = xlsx::open(path)?;
            (layout, header, Rows::Xlsx(rows))
        }
    };
    Ok(Reader {
        layout,
        header,
        rows,
    })
}

/// An open import file: its layout and header, and (as an [`Iterator`]) its
/// records in file order.
///
/// Each [`Record`] has `row`, the spreadsheet row number (the header is row 1
/// and the first record row 2; wholly empty records are skipped but keep their
/// number; a CSV record spanning lines is one row; a JSON file's first element
/// is row 2), `cells` in the layout's column order (trimmed, empty for
/// empty/null, at most 32,767 characters), and `errors` found while reading
/// (`too_long`, `unexpected_cell`, and for JSON `unknown_field`,
/// `invalid_value`). A file broken mid-way yields one
/// `Err(FileError::Unreadable)` and then ends.
pub struct Reader {
    layout: Layout,
    header: Vec<String>,
    rows: Rows,
}

enum Rows {
    Csv(Box<csv::CsvRows>),
    Json(Box<json::JsonRows>),
    Xlsx(xlsx::XlsxRows),
    Finished,
}

impl Reader {
    /// The layout the header (or, for JSON, the format) tells.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The result spreadsheet's header cells: the file's header cells as
    /// written (trimmed, trailing empty cells dropped) for CSV and xlsx, the
    /// full layout's column names for JSON.
    pub fn header(&self) -> &[String] {
        &self.header
    }
}

impl Iterator for Reader {
    type Item = Result<Record, FileError>;

    fn next(&mut self) -> Option<Self::Item> {
        let next = match &mut self.rows {
            Rows::Csv(rows) => rows.next(),
            Rows::Json(rows) => rows.next(),
            Rows::Xlsx(rows) => rows.next(),
            Rows::Finished => None,
        };
        if !matches!(next, Some(Ok(_))) {
            // At the end or after an error: release the file (and stop a helper thread).
            self.rows = Rows::Finished;
        }
        next
    }
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("layout", &self.layout)
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

/// An I/O error while reading a file, as `unreadable_file`. Decoding and
/// bounds errors (`InvalidData`) carry a sentence of their own.
fn unreadable(e: &std::io::Error) -> FileError {
    if e.kind() == std::io::ErrorKind::InvalidData {
        FileError::Unreadable(e.to_string())
    } else {
        FileError::Unreadable(format!("the file could not be read: {e}"))
    }
}
