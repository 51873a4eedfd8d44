//! What the file-reader targets share: an upload written to a temporary file
//! and read to its end through the same entry points the pipeline uses
//! (`ingest::open`, then every record).

// Each target includes this file and uses part of it.
#![allow(dead_code)]

use roster_shared::ingest;
use roster_shared::model::{FileError, Format};
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
    let width = reader.layout().columns().len();
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

/// Lets an arithmetic overflow inside calamine's cell-reference parsing
/// unwind instead of aborting the run; any other panic still aborts.
///
/// calamine 0.38 parses `r="A1"` with unchecked arithmetic: a reference of
/// eight letters or ten digits overflows. The targets are built with overflow
/// checks, so there it panics; Roster ships without them, where it wraps (a
/// wild position, which the reader reports as an unexpected cell or a row out
/// of order) or ends as calamine's own error. Either way it happens on the
/// reader's helper thread, whose panic the reader already turns into
/// `unreadable_file` (xlsx.rs), so the harness checks that outcome instead.
pub fn tolerate_calamine_overflow() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let abort = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_calamine = info
                .location()
                .is_some_and(|at| at.file().contains("/calamine-"));
            let overflow = info
                .payload_as_str()
                .is_some_and(|message| message.contains("with overflow"));
            let on_helper = std::thread::current().name() == Some("ingest-xlsx");
            if !(in_calamine && overflow && on_helper) {
                abort(info);
            }
        }));
    });
}
