//! The JSON reader on any bytes: the streaming walk of the top level, each
//! element parsed alone, keys and values mapped to cells.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use roster_shared::model::Format;

fuzz_target!(|data: &[u8]| {
    let file = common::stored(data);
    common::read_all(&file, Format::Json);
});
