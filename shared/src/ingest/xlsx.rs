//! The xlsx reader: the first worksheet, row 1 (the first row with a value)
//! as the header, streamed cell by cell with calamine.
//!
//! The zip is inspected first (see `guard.rs`). Cells are streamed with
//! `worksheet_cells_reader`, never `worksheet_range`, which allocates the
//! sheet's whole bounding box (a cell at XFD1048576 asks for 512 GiB). Sparse
//! and empty rows cost nothing; cells past the header's columns are kept only
//! to report the first non-empty one of a row. Rows must come in order (as
//! Excel writes them): a cell in a row above the current one ends the file as
//! `unreadable_file`, since it would repeat a row number.
//!
//! calamine's cell reader borrows the workbook, so both live on a helper
//! thread that sends finished records through a small bounded channel: memory
//! stays flat, and dropping the [`XlsxRows`] stops the thread at its next send.

use super::cell::display;
use super::row::Draft;
use super::{guard, header};
use crate::model::{FileError, Layout, Record};
use calamine::{Reader as _, SheetType, Xlsx, open_workbook};
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// Records the helper thread may read ahead.
const READ_AHEAD: usize = 256;
/// Header cells kept by position; a non-empty cell further right is only noted.
const MAX_HEADER_COLUMNS: usize = 1_024;

enum Message {
    Header { layout: Layout, cells: Vec<String> },
    Row(Record),
    Failed(FileError),
    Done,
}

/// The records after the header of the first worksheet.
pub(super) struct XlsxRows {
    rx: Receiver<Message>,
    finished: bool,
}

/// Checks and opens an xlsx file and reads its header: the layout, the header
/// cells as written, the rows.
pub(super) fn open(path: &Path) -> Result<(Layout, Vec<String>, XlsxRows), FileError> {
    guard::inspect(path)?;
    let (tx, rx) = sync_channel(READ_AHEAD);
    let path = path.to_path_buf();
    std::thread::Builder::new()
        .name("ingest-xlsx".into())
        .spawn(move || run(path, tx))
        .map_err(|e| FileError::Unreadable(format!("the spreadsheet could not be read: {e}")))?;
    let rows = XlsxRows {
        rx,
        finished: false,
    };
    match rows.rx.recv() {
        Ok(Message::Header { layout, cells }) => Ok((layout, cells, rows)),
        Ok(Message::Failed(e)) => Err(e),
        Ok(Message::Done) => Err(FileError::EmptyFile("the first worksheet is empty".into())),
        Ok(Message::Row(_)) | Err(_) => Err(stopped()),
    }
}

fn stopped() -> FileError {
    FileError::Unreadable("the spreadsheet reader stopped unexpectedly".into())
}

fn broken(e: impl std::fmt::Display) -> FileError {
    FileError::Unreadable(format!("the spreadsheet could not be read: {e}"))
}

impl Iterator for XlsxRows {
    type Item = Result<Record, FileError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        let item = match self.rx.recv() {
            Ok(Message::Row(record)) => return Some(Ok(record)),
            Ok(Message::Done) => None,
            Ok(Message::Failed(e)) => Some(Err(e)),
            // The thread ended without saying so: it panicked.
            Ok(Message::Header { .. }) | Err(_) => Some(Err(stopped())),
        };
        self.finished = true;
        item
    }
}

/// Why the helper thread stops early.
enum Stop {
    /// The reader was dropped: nobody is listening.
    Gone,
    File(FileError),
}

impl From<FileError> for Stop {
    fn from(e: FileError) -> Self {
        Stop::File(e)
    }
}

fn run(path: PathBuf, tx: SyncSender<Message>) {
    let last = match read_sheet(&path, &tx) {
        Ok(()) => Message::Done,
        Err(Stop::File(e)) => Message::Failed(e),
        Err(Stop::Gone) => return,
    };
    // A send error means the reader is gone, which is fine at this point.
    let _ = tx.send(last);
}

fn read_sheet(path: &Path, tx: &SyncSender<Message>) -> Result<(), Stop> {
    let mut book: Xlsx<BufReader<File>> = open_workbook(path).map_err(broken)?;
    let sheet = book
        .sheets_metadata()
        .iter()
        .find(|sheet| sheet.typ == SheetType::WorkSheet)
        .map(|sheet| sheet.name.clone())
        .ok_or_else(|| FileError::EmptyFile("the workbook has no worksheet".into()))?;
    let mut cells = book.worksheet_cells_reader(&sheet).map_err(broken)?;
    let mut rows = Rows::default();
    while let Some(cell) = cells.next_cell().map_err(broken)? {
        let (row, column) = cell.get_position();
        if let Some(current) = rows.current.filter(|&current| row < current) {
            // Excel writes rows in order; one going back would repeat a row
            // number, and row outcomes are keyed by it. The rows before it stand.
            rows.end_row(tx)?;
            return Err(FileError::Unreadable(format!(
                "the spreadsheet could not be read: row {} comes after row {} \
                 (rows must be in order)",
                u64::from(row) + 1,
                u64::from(current) + 1
            ))
            .into());
        }
        if rows.current != Some(row) {
            rows.end_row(tx)?;
            rows.current = Some(row);
        }
        let column = usize::try_from(column).unwrap_or(usize::MAX);
        rows.add(column, &display(cell.get_value()));
    }
    rows.end_row(tx)
}

/// Assembles cells (in sheet order) into the header, then into records.
#[derive(Default)]
struct Rows {
    /// The 0-based row the cells being added belong to.
    current: Option<u32>,
    /// Before the header: the candidate header row, by column.
    header: Vec<String>,
    /// Before the header: the first non-empty cell past [`MAX_HEADER_COLUMNS`].
    far: Option<(usize, String)>,
    /// After the header: its layout and the record being filled.
    body: Option<(Layout, Draft)>,
}

impl Rows {
    fn add(&mut self, column: usize, text: &str) {
        if let Some((_, draft)) = &mut self.body {
            draft.set(column, text);
        } else if text.trim().is_empty() {
            // An empty cell tells nothing about the header.
        } else if column < MAX_HEADER_COLUMNS {
            if self.header.len() <= column {
                self.header.resize(column + 1, String::new());
            }
            text.clone_into(&mut self.header[column]);
        } else if self.far.is_none() {
            self.far = Some((column, text.to_owned()));
        }
    }

    /// Finishes the current row: the header when it is the first with a
    /// value, else a record (sent unless wholly empty).
    fn end_row(&mut self, tx: &SyncSender<Message>) -> Result<(), Stop> {
        let Some(row) = self.current else {
            return Ok(());
        };
        let number = row.saturating_add(1);
        if let Some((layout, draft)) = &mut self.body {
            let draft = std::mem::replace(draft, Draft::new(*layout));
            if let Some(record) = draft.finish(number) {
                tx.send(Message::Row(record)).map_err(|_| Stop::Gone)?;
            }
            return Ok(());
        }
        let cells = header::clean(self.header.iter().map(String::as_str));
        if cells.is_empty() && self.far.is_none() {
            return Ok(()); // still above the header
        }
        let layout = header::recognize(&cells)?;
        if let Some((column, text)) = &self.far {
            return Err(FileError::BadHeader(header::extra_column(*column, text, layout)).into());
        }
        self.body = Some((layout, Draft::new(layout)));
        tx.send(Message::Header { layout, cells })
            .map_err(|_| Stop::Gone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_helper_that_dies_without_a_word_ends_the_rows_with_an_error() {
        let (tx, rx) = sync_channel(1);
        let mut rows = XlsxRows {
            rx,
            finished: false,
        };
        drop(tx); // as when the thread panics
        assert!(matches!(rows.next(), Some(Err(FileError::Unreadable(_)))));
        assert!(rows.next().is_none());
    }
}
