//! Tests of the readers as a whole: `files` against fixtures written by other
//! programs, `hostile` against files built to break or exhaust a reader.

use super::*;
use crate::model::{FieldError, Record};
use std::path::PathBuf;

mod files;
mod hostile;

pub(super) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name)
}

pub(super) fn read_all(path: &Path, format: Format) -> (Reader, Vec<Record>) {
    let mut reader = open(path, format).expect("opens");
    let records = reader
        .by_ref()
        .collect::<Result<Vec<_>, _>>()
        .expect("reads");
    (reader, records)
}

pub(super) fn rows(records: &[Record]) -> Vec<u32> {
    records.iter().map(|r| r.row).collect()
}

pub(super) fn codes(errors: &[FieldError]) -> Vec<(&str, &str)> {
    errors
        .iter()
        .map(|e| (e.field.as_str(), e.code.as_str()))
        .collect()
}

pub(super) fn written(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("write temp file");
    path
}
