//! The result spreadsheet: the uploaded rows, in their order and columns, with
//! a `Result` column appended, plus a `Summary` sheet of counts (API.md, "The
//! result spreadsheet").
//!
//! The rules kept here: a result never carries a password (the Password
//! column's cells are written empty), and every cell is written as text, so a
//! value such as `=HYPERLINK(...)` or `0012` shows exactly as uploaded and can
//! never run as a formula or turn into a number. The rows sheet is named
//! `Technicians` and is written in constant memory, row by row, in order.

mod text;
mod writer;

pub use text::result_text;
pub use writer::{ResultWriter, Summary};

/// Why the result spreadsheet could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The spreadsheet library (or the file system under it) failed.
    #[error("cannot write the result spreadsheet: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    /// The Password column given to [`ResultWriter::create`] is not in the header.
    #[error("the Password column ({index}) is outside the header's {columns} columns")]
    PasswordColumn { index: usize, columns: usize },
    /// The header is wider than a worksheet (16,383 columns and `Result`).
    #[error("the header has {0} columns, more than a worksheet holds")]
    TooManyColumns(usize),
    /// More rows than a worksheet holds (1,048,575 under the header).
    #[error("more rows than a worksheet holds (1,048,576 with the header)")]
    TooManyRows,
}
