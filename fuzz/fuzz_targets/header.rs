//! The header matcher on any row of cells (the input's text, cells separated
//! by the unit separator 0x1F).
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_shared::ingest;
use roster_shared::model::FileError;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match ingest::recognize_header(text.split('\u{1F}')) {
        Ok((layout, cells)) => assert_eq!(cells.len(), layout.columns().len()),
        Err(FileError::BadHeader(message)) => {
            // It quotes at most a short column name, never the row.
            assert!(message.len() < 512, "a message of {} bytes", message.len());
        }
        Err(other) => panic!("a header is a bad_header or fine, not {other:?}"),
    }
});
