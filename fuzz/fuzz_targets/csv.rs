//! The CSV reader on any bytes: decoding, line ends, delimiter, quoting, header.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use roster_shared::model::Format;

fuzz_target!(|data: &[u8]| {
    let file = common::stored(data);
    common::read_all(&file, Format::Csv);
});
