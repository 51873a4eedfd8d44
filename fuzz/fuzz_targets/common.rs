//! What the file-reader targets share: an upload written to a temporary file
//! and read to its end through the same entry points the pipeline uses
//! (`ingest::open`, then every record).

use roster_shared::ingest;
use roster_shared::model::{FileError, Format, Layout};
use std::io::Write;

/// Excel's limit on a cell, which every reader keeps.
const MAX_CELL_CHARS: usize = 32_767;

/// Writes `bytes` to a fresh temporary file, as the worker stores an upload.
pub fn stored(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("a temporary file");
    file.write_all(bytes).expect("write the temporary file");
    file.flush().expect("flush the temporary file");
    file
}

/// Opens the file as `format` and reads every record, checking what the
/// reader promises of each (ingest/mod.rs, `Reader`).
pub fn read_all(file: &tempfile::NamedTempFile, format: Format) {
    let mut reader = match ingest::open(file.path(), format) {
        Ok(reader) => reader,
        Err(e) => return check_error(&e),
    };
    let width = match reader.layout() {
        Layout::Full => 10,
        Layout::Short => 3,
    };
    let mut last_row = 1;
    for item in reader.by_ref() {
        match item {
            Ok(record) => {
                assert!(
                    record.row > last_row || record.row == u32::MAX,
                    "rows go forward (row {} after {last_row})",
                    record.row
                );
                last_row = record.row;
                assert!(record.cells.len() <= width, "cells beyond the layout");
                for cell in &record.cells {
                    let chars = cell.chars().count();
                    assert!(chars <= MAX_CELL_CHARS, "a cell of {chars} characters");
                    // A cell cut at the limit may end where the cut fell.
                    if chars < MAX_CELL_CHARS {
                        assert_eq!(cell.trim(), cell, "cells are trimmed");
                    }
                }
            }
            Err(e) => {
                check_error(&e);
                break;
            }
        }
    }
    assert!(reader.next().is_none(), "a finished reader stays finished");
}

/// A file error's message is a sentence, not a copy of the file.
fn check_error(e: &FileError) {
    let message = e.to_string();
    assert!(
        message.len() < 4_096,
        "an error message of {} bytes",
        message.len()
    );
}
