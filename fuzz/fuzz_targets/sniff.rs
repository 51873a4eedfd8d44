//! The format sniffer on an upload's first bytes, as the API hands them over.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_shared::ingest::{self, SNIFF_BYTES};

fuzz_target!(|data: &[u8]| {
    let prefix = &data[..data.len().min(SNIFF_BYTES)];
    if let Err(refusal) = ingest::sniff(prefix) {
        assert!(
            refusal.0.len() < 1_024,
            "a refusal of {} bytes",
            refusal.0.len()
        );
    }
});
