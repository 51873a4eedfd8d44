//! The xlsx reader past the zip layer: the input is the workbook's XML parts,
//! separated by 0xFF bytes (never valid UTF-8, so never inside the XML):
//! the first worksheet, then optionally the shared strings and the workbook.
//! They are zipped (stored, with correct checksums) into a workbook, so that
//! mutations reach calamine's XML parsing and the reader's row assembly
//! instead of failing a CRC check.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use roster_shared::ingest;
use roster_shared::model::Format;
use std::io::Write;

const REL: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
const WORKBOOK: &[u8] =
    br#"<workbook><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>"#;

fuzz_target!(|data: &[u8]| {
    common::tolerate_calamine_overflow();
    let mut parts = data.split(|&b| b == 0xFF);
    let sheet = parts.next().unwrap_or_default();
    let shared_strings = parts.next();
    let workbook = parts.next().unwrap_or(WORKBOOK);

    let root = format!(
        r#"<Relationships><Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>"#
    );
    let rels = format!(
        r#"<Relationships><Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#
    );
    let mut files: Vec<(&str, &[u8])> = vec![
        ("_rels/.rels", root.as_bytes()),
        ("xl/workbook.xml", workbook),
        ("xl/_rels/workbook.xml.rels", rels.as_bytes()),
        ("xl/worksheets/sheet1.xml", sheet),
    ];
    if let Some(sst) = shared_strings {
        files.push(("xl/sharedStrings.xml", sst));
    }
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in files {
        zip.start_file(name, options).expect("start a part");
        zip.write_all(bytes).expect("write a part");
    }
    let bytes = zip.finish().expect("finish the zip").into_inner();

    let file = common::stored(&bytes);
    if ingest::check_xlsx(file.path()).is_ok() {
        common::read_all(&file, Format::Xlsx);
    }
});
