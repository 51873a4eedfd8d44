//! Hostile and broken workbooks, built by hand with the zip crate.

use super::*;
use std::io::Write;

const REL: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";

fn write_zip(path: &Path, parts: &[(&str, &[u8])], method: zip::CompressionMethod) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, bytes) in parts {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

/// A minimal workbook whose first sheet holds `sheet_data`, plus `extra` parts.
fn workbook(path: &Path, sheet_data: &str, extra: &[(&str, &[u8])]) {
    let root = format!(
        r#"<Relationships><Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>"#
    );
    let book = r#"<workbook><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
    let rels = format!(
        r#"<Relationships><Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#
    );
    // The dimension claims the whole grid, as a hostile file would.
    let sheet = format!(
        r#"<worksheet><dimension ref="A1:XFD1048576"/><sheetData>{sheet_data}</sheetData></worksheet>"#
    );
    let mut parts: Vec<(&str, &[u8])> = vec![
        ("_rels/.rels", root.as_bytes()),
        ("xl/workbook.xml", book.as_bytes()),
        ("xl/_rels/workbook.xml.rels", rels.as_bytes()),
        ("xl/worksheets/sheet1.xml", sheet.as_bytes()),
    ];
    parts.extend_from_slice(extra);
    write_zip(path, &parts, zip::CompressionMethod::Deflated);
}

fn cell(at: &str, text: &str) -> String {
    format!(r#"<c r="{at}" t="inlineStr"><is><t>{text}</t></is></c>"#)
}

fn short_header() -> String {
    format!(
        r#"<row r="1">{}{}{}</row>"#,
        cell("A1", "Name"),
        cell("B1", "Email"),
        cell("C1", "Password")
    )
}

#[test]
fn a_far_away_cell_is_read_without_allocating_the_sheet() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("far.xlsx");
    let data = format!(
        r#"{}<row r="2">{}</row><row r="1048576">{}</row>"#,
        short_header(),
        cell("A2", "Ana"),
        cell("XFD1048576", "far")
    );
    workbook(&path, &data, &[]);
    let (_, records) = read_all(&path, Format::Xlsx);
    assert_eq!(rows(&records), [2, 1_048_576]);
    assert_eq!(
        codes(&records[1].errors),
        [("Column 16384", "unexpected_cell")]
    );

    // The only cell of the sheet, far away: a bad header, quickly.
    workbook(
        &path,
        &format!(r#"<row r="1048576">{}</row>"#, cell("XFD1048576", "x")),
        &[],
    );
    let err = open(&path, Format::Xlsx).unwrap_err();
    assert_eq!(
        err,
        FileError::BadHeader("column 1: expected 'Name', found nothing".into())
    );
}

#[test]
fn a_row_that_goes_back_is_unreadable_not_a_second_row_with_its_number() {
    // Found by fuzz/ (the xlsx target): calamine gives positions from `r` as
    // written, so `<row r="2">` after row 3 gave a second record numbered 2,
    // whose outcome the pipeline would have taken for the first one's.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("order.xlsx");
    let data = format!(
        r#"{}<row r="3">{}</row><row r="2">{}</row><row r="3">{}</row>"#,
        short_header(),
        cell("A3", "Bob"),
        cell("A2", "Ana"),
        cell("B3", "bob@x.test")
    );
    workbook(&path, &data, &[]);
    let mut reader = open(&path, Format::Xlsx).expect("opens");
    assert_eq!(reader.next().map(|r| r.map(|r| r.row)), Some(Ok(3)));
    let err = reader.next().expect("an item").unwrap_err();
    assert_eq!(err.code(), "unreadable_file", "{err}");
    assert!(err.to_string().contains("row 2 comes after row 3"), "{err}");
    assert!(reader.next().is_none());

    // Cells of one row out of order are fine; a cell back in an earlier row is not.
    let data = format!(
        r#"{}<row r="2">{}{}</row>"#,
        short_header(),
        cell("B2", "ana@x.test"),
        cell("A2", "Ana")
    );
    workbook(&path, &data, &[]);
    let (_, records) = read_all(&path, Format::Xlsx);
    assert_eq!(records[0].cells[..2], ["Ana", "ana@x.test"]);
    let data = format!(
        r#"{}<row r="2">{}{}</row>"#,
        short_header(),
        cell("A2", "Ana"),
        cell("A1", "x")
    );
    workbook(&path, &data, &[]);
    let mut reader = open(&path, Format::Xlsx).expect("opens");
    assert_eq!(reader.next().map(|r| r.map(|r| r.row)), Some(Ok(2)));
    let err = reader.next().expect("an item").unwrap_err();
    assert!(err.to_string().contains("row 1 comes after row 2"), "{err}");
}

#[test]
fn an_absurd_shared_string_count_is_unsafe() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sst.xlsx");
    let sst = br#"<?xml version="1.0"?><sst xmlns="x" count="1" uniqueCount="2000000000"><si><t>Name</t></si></sst>"#;
    workbook(&path, &short_header(), &[("xl/sharedStrings.xml", sst)]);
    let err = open(&path, Format::Xlsx).unwrap_err();
    assert_eq!(err.code(), "unsafe_file", "{err}");
    assert!(err.to_string().contains("2000000000"), "{err}");

    // An honest count passes.
    let sst = br#"<x:sst xmlns:x="x" uniqueCount='1'><x:si><x:t>Name</x:t></x:si></x:sst>"#;
    workbook(&path, &short_header(), &[("xl/sharedStrings.xml", sst)]);
    assert_eq!(open(&path, Format::Xlsx).unwrap().layout(), Layout::Short);
}

#[test]
fn a_zip_bomb_is_unsafe() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bomb.xlsx");
    let zeros = vec![b'0'; 300 << 20];
    workbook(
        &path,
        &short_header(),
        &[("xl/worksheets/sheet2.xml", &zeros)],
    );
    let err = open(&path, Format::Xlsx).unwrap_err();
    assert_eq!(err.code(), "unsafe_file", "{err}");
    assert!(err.to_string().contains("expands"), "{err}");
}

#[test]
fn too_many_parts_is_unsafe() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.xlsx");
    let names: Vec<String> = (0..10_001).map(|i| format!("xl/media/{i}.bin")).collect();
    let parts: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b""[..])).collect();
    workbook(&path, &short_header(), &parts);
    assert_eq!(open(&path, Format::Xlsx).unwrap_err().code(), "unsafe_file");
}

#[test]
fn broken_zips_are_unreadable_and_other_zips_unsupported() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(fixture("full.xlsx")).unwrap();
    let cut = written(&dir, "cut.xlsx", &bytes[..bytes.len() / 2]);
    assert!(check_xlsx(&cut).is_err());
    assert_eq!(
        open(&cut, Format::Xlsx).unwrap_err().code(),
        "unreadable_file"
    );

    let other = dir.path().join("other.zip");
    write_zip(
        &other,
        &[("word/document.xml", b"<w/>")],
        zip::CompressionMethod::Deflated,
    );
    assert!(
        check_xlsx(&other)
            .unwrap_err()
            .0
            .contains("xl/workbook.xml")
    );
}

/// A small deterministic generator (xorshift), enough to vary garbage.
fn noise(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn garbage_ends_in_records_or_errors_never_in_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let alphabet = b"Name,Email;Password\t\"\r\n[]{}:\\ 0x\xC3\xA9\xFF\xFE\0";
    let mut seed = 0x2545_F491_4F6C_DD1D_u64;
    for case in 0..300 {
        let len = (noise(&mut seed) % 600) as usize;
        let mut bytes: Vec<u8> = (0..len)
            .map(|_| alphabet[(noise(&mut seed) % alphabet.len() as u64) as usize])
            .collect();
        if case % 2 == 0 {
            bytes.splice(0..0, b"Name,Email,Password\n[{\"name\": ".iter().copied());
        }
        let _ = sniff(&bytes);
        let path = written(&dir, "g", &bytes);
        for format in [Format::Csv, Format::Json] {
            if let Ok(reader) = open(&path, format) {
                reader.for_each(drop);
            }
        }
    }
    // A real workbook with bytes flipped here and there.
    let book = std::fs::read(fixture("full.xlsx")).unwrap();
    for _ in 0..40 {
        let mut bytes = book.clone();
        for _ in 0..4 {
            let at = (noise(&mut seed) % bytes.len() as u64) as usize;
            bytes[at] ^= (noise(&mut seed) % 255 + 1) as u8;
        }
        let path = written(&dir, "g.xlsx", &bytes);
        if let Ok(reader) = open(&path, Format::Xlsx) {
            reader.for_each(drop);
        }
    }
}
