//! The xlsx path on any bytes, as the service takes it: `check_xlsx` (is it a
//! workbook?), then the reader, which inspects the zip (the bomb guard)
//! before calamine inflates anything.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use roster_shared::ingest;
use roster_shared::model::Format;

fuzz_target!(|data: &[u8]| {
    common::tolerate_calamine_overflow();
    let file = common::stored(data);
    if ingest::check_xlsx(file.path()).is_ok() {
        common::read_all(&file, Format::Xlsx);
    }
});
