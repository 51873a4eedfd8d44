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

// ------------------------------------------- one huge cell, built as a stream

/// Writes `unit` `count` times, about a megabyte at a time: the hostile parts
/// below are tens of MB inflated and never exist whole, here or on disk.
fn repeat(out: &mut dyn Write, unit: &[u8], count: usize) {
    let per_block = ((1 << 20) / unit.len()).max(1);
    let block = unit.repeat(per_block);
    let mut left = count;
    while left > 0 {
        let n = left.min(per_block);
        out.write_all(&block[..n * unit.len()]).unwrap();
        left -= n;
    }
}

/// Writes `len` bytes of letters in runs of random lengths: text that packs
/// about 30 times, under the ratio guard, as the reported files did.
fn letters(out: &mut dyn Write, len: usize) {
    let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
    let mut block = Vec::with_capacity(1 << 20);
    let mut left = len;
    while left > 0 {
        block.clear();
        while block.len() < (1 << 20).min(left) {
            let run = (noise(&mut seed) % 100 + 50) as usize;
            let letter = b'a' + (noise(&mut seed) % 26) as u8;
            let run = run.min(left - block.len());
            block.extend(std::iter::repeat_n(letter, run));
        }
        out.write_all(&block).unwrap();
        left -= block.len();
    }
}

/// Writes a part's bytes.
type Writes = dyn Fn(&mut dyn Write);

/// A workbook whose worksheet part `sheet_part` is written by `sheet`, and whose
/// shared strings (if any) by `strings`, both streamed into the zip.
fn streamed_workbook(path: &Path, sheet_part: &str, sheet: &Writes, strings: Option<&Writes>) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(false);
    let target = sheet_part.trim_start_matches("xl/");
    let small: [(&str, String); 3] = [
        (
            "_rels/.rels",
            format!(
                r#"<Relationships><Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>"#
            ),
        ),
        (
            "xl/workbook.xml",
            r#"<workbook><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>"#
                .to_owned(),
        ),
        (
            "xl/_rels/workbook.xml.rels",
            format!(
                r#"<Relationships><Relationship Id="rId1" Type="{REL}/worksheet" Target="{target}"/></Relationships>"#
            ),
        ),
    ];
    for (name, xml) in &small {
        zip.start_file(*name, options).unwrap();
        zip.write_all(xml.as_bytes()).unwrap();
    }
    zip.start_file(sheet_part, options).unwrap();
    sheet(&mut zip);
    if let Some(strings) = strings {
        zip.start_file("xl/sharedStrings.xml", options).unwrap();
        strings(&mut zip);
    }
    zip.finish().unwrap();
}

const SHEET_START: &[u8] = br#"<worksheet><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Name</t></is></c><c r="B1" t="inlineStr"><is><t>Email</t></is></c><c r="C1" t="inlineStr"><is><t>Password</t></is></c></row>"#;
const SHEET_END: &[u8] = b"</sheetData></worksheet>";
const MIB_64: usize = 64 << 20;

fn assert_unsafe(path: &Path, says: &str) {
    let started = std::time::Instant::now();
    let err = open(path, Format::Xlsx).unwrap_err();
    assert_eq!(err.code(), "unsafe_file", "{err}");
    assert!(err.to_string().contains(says), "{err}");
    eprintln!("refused in {:?}: {err}", started.elapsed());
}

#[test]
fn a_64_mib_inline_cell_is_refused_while_streaming() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cell.xlsx");
    let sheet = |out: &mut dyn Write| {
        out.write_all(SHEET_START).unwrap();
        out.write_all(br#"<row r="7"><c r="XFD7" t="inlineStr"><is><t>"#)
            .unwrap();
        letters(out, MIB_64);
        out.write_all(b"</t></is></c></row>").unwrap();
        out.write_all(SHEET_END).unwrap();
    };
    streamed_workbook(&path, "xl/worksheets/sheet1.xml", &sheet, None);
    assert!(std::fs::metadata(&path).unwrap().len() < 4 << 20);
    assert_unsafe(&path, "cell XFD7 holds more than 32,767 characters");

    // The same cell as many rich-text runs, each short, is one value to calamine.
    let sheet = |out: &mut dyn Write| {
        out.write_all(SHEET_START).unwrap();
        out.write_all(br#"<row r="2"><c r="B2" t="inlineStr"><is>"#)
            .unwrap();
        for _ in 0..MIB_64 / 1024 {
            out.write_all(b"<r><t>").unwrap();
            letters(out, 1024);
            out.write_all(b"</t></r>").unwrap();
        }
        out.write_all(b"</is></c></row>").unwrap();
        out.write_all(SHEET_END).unwrap();
    };
    streamed_workbook(&path, "xl/worksheets/sheet1.xml", &sheet, None);
    assert_unsafe(&path, "cell B2 holds more than 32,767 characters");
}

#[test]
fn a_64_mib_shared_string_is_refused_while_streaming() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sst.xlsx");
    let sheet = |out: &mut dyn Write| {
        out.write_all(SHEET_START).unwrap();
        out.write_all(br#"<row r="2"><c r="A2" t="s"><v>1</v></c></row>"#)
            .unwrap();
        out.write_all(SHEET_END).unwrap();
    };
    let strings = |out: &mut dyn Write| {
        out.write_all(br#"<sst count="2" uniqueCount="2"><si><t>x</t></si><si><t>"#)
            .unwrap();
        letters(out, MIB_64);
        out.write_all(b"</t></si></sst>").unwrap();
    };
    streamed_workbook(&path, "xl/worksheets/sheet1.xml", &sheet, Some(&strings));
    assert_unsafe(
        &path,
        "shared string 2 (in 'xl/sharedStrings.xml') holds more than 32,767",
    );
}

#[test]
fn millions_of_short_shared_strings_are_refused_while_streaming() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.xlsx");
    let sheet = |out: &mut dyn Write| {
        out.write_all(SHEET_START).unwrap();
        out.write_all(SHEET_END).unwrap();
    };
    // No uniqueCount to give them away: they are counted as they stream.
    let strings = |out: &mut dyn Write| {
        out.write_all(b"<sst>").unwrap();
        repeat(out, b"<si><t>x</t></si>", 3_000_000);
        out.write_all(b"</sst>").unwrap();
    };
    streamed_workbook(&path, "xl/worksheets/sheet1.xml", &sheet, Some(&strings));
    assert_unsafe(&path, "more than 65536 shared strings");
}

#[test]
fn a_worksheet_by_any_name_is_scanned() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("named.xlsx");
    // Not named .xml and not starting with `<`: calamine reads it all the same.
    let sheet = |out: &mut dyn Write| {
        out.write_all(b"x").unwrap();
        out.write_all(SHEET_START).unwrap();
        out.write_all(br#"<row r="3"><c r="C3"><v>"#).unwrap();
        letters(out, MIB_64);
        out.write_all(b"</v></c></row>").unwrap();
        out.write_all(SHEET_END).unwrap();
    };
    streamed_workbook(&path, "xl/worksheets/sheet1.bin", &sheet, None);
    assert_unsafe(&path, "cell C3 holds more than 32,767 characters");
}

#[test]
fn cells_of_32767_characters_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("LONGEST.xlsx");
    const LONGEST: usize = 32_767;
    // The most escaped forms a writer uses: 5 and 10 bytes for one character.
    let sheet = |out: &mut dyn Write| {
        out.write_all(SHEET_START).unwrap();
        out.write_all(br#"<row r="2"><c r="A2" t="s"><v>0</v></c><c r="B2" t="inlineStr"><is><t>"#)
            .unwrap();
        repeat(out, b"&#1114111;", LONGEST);
        out.write_all(br#"</t></is></c><c r="C2" t="inlineStr"><is><r><t>"#)
            .unwrap();
        repeat(out, "é".as_bytes(), LONGEST - 1);
        out.write_all(b"</t></r><r><t>z</t></r></is></c></row>")
            .unwrap();
        out.write_all(SHEET_END).unwrap();
    };
    let strings = |out: &mut dyn Write| {
        out.write_all(br#"<sst uniqueCount="1"><si><t>"#).unwrap();
        repeat(out, b"&amp;", LONGEST);
        out.write_all(b"</t></si></sst>").unwrap();
    };
    streamed_workbook(&path, "xl/worksheets/sheet1.xml", &sheet, Some(&strings));
    let (_, records) = read_all(&path, Format::Xlsx);
    assert_eq!(rows(&records), [2]);
    let lengths: Vec<usize> = records[0].cells.iter().map(|c| c.chars().count()).collect();
    assert_eq!(lengths, [LONGEST, LONGEST, LONGEST]);
    assert!(records[0].cells[0].chars().all(|c| c == '&'));
    assert!(records[0].cells[1].chars().all(|c| c == '\u{10FFFF}'));
}
