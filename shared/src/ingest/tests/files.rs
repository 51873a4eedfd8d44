//! The readers against files written by other programs (tests/fixtures, made
//! by make_fixtures.py with Python's csv module and openpyxl), and small
//! CSV and JSON edge cases.

use super::*;
use crate::model::{FULL_COLUMNS, HASHED_COLUMNS};

const ANA: [&str; 10] = [
    "Ana Silva",
    "ana",
    "ana.silva@example.com",
    "ana-sso",
    "Tier 1, EMEA",
    "S3cure!Passw0rd",
    "Yes",
    "Yes",
    "No",
    "42",
];

/// [`ANA`] as a JSON file's record holds it: the full layout with Password Hash.
fn ana_in_json() -> Vec<&'static str> {
    let mut cells = ANA.to_vec();
    cells.insert(6, "");
    cells
}

#[test]
fn reader_is_send() {
    fn send<T: Send>() {}
    send::<Reader>();
}

#[test]
fn fixtures_are_sniffed_by_content() {
    for (name, format) in [
        ("full_comma_utf8.csv", Format::Csv),
        ("full_semicolon_bom.csv", Format::Csv),
        ("full_tab_utf16le.txt", Format::Csv),
        ("full_cp1252.csv", Format::Csv),
        ("array_snake.json", Format::Json),
        ("technicians_object.json", Format::Json),
        ("full.xlsx", Format::Xlsx),
    ] {
        let bytes = std::fs::read(fixture(name)).expect("fixture");
        let prefix = &bytes[..bytes.len().min(SNIFF_BYTES)];
        assert_eq!(sniff(prefix), Ok(format), "{name}");
    }
    assert_eq!(check_xlsx(&fixture("full.xlsx")), Ok(()));
}

#[test]
fn csv_delimiters_and_encodings_read_alike() {
    for name in [
        "full_comma_utf8.csv",
        "full_semicolon_bom.csv",
        "full_tab_utf16le.txt",
    ] {
        let (reader, records) = read_all(&fixture(name), Format::Csv);
        assert_eq!(reader.layout(), Layout::Full, "{name}");
        assert_eq!(reader.header(), FULL_COLUMNS, "{name}");
        assert_eq!(rows(&records), [2, 3], "{name}");
        assert_eq!(records[0].cells, ANA, "{name}");
        assert_eq!(records[1].cells[1], "", "{name}");
        assert!(records.iter().all(|r| r.errors.is_empty()), "{name}");
    }
}

#[test]
fn windows_1252_csv_keeps_its_accents() {
    let (_, records) = read_all(&fixture("full_cp1252.csv"), Format::Csv);
    assert_eq!(records[0].cells[0], "José Müller");
    assert_eq!(records[0].cells[1], "Zoë");
    assert_eq!(records[0].cells[4], "Prix: 5 €");
    assert_eq!(records[0].cells[5], "Pa$$w0rd-Ünïcode");
}

#[test]
fn csv_rows_are_numbered_as_a_spreadsheet_shows_them() {
    let (_, records) = read_all(&fixture("quoted_newline.csv"), Format::Csv);
    assert_eq!(rows(&records), [2, 3, 6]);
    assert_eq!(records[1].cells[4], "first line\nsecond line");
    assert_eq!(records[2].cells[0], "Carl Young");

    // The same with LF, lone CR, leading blank lines and no final line end.
    let dir = tempfile::tempdir().unwrap();
    let text = "\n\nName;Email;Password\n\"A\r\nB\";a@x.org;p\r\r\n ; ;\nC;c@x.org;p";
    let (reader, records) = read_all(&written(&dir, "a.csv", text.as_bytes()), Format::Csv);
    assert_eq!(reader.layout(), Layout::Short);
    assert_eq!(rows(&records), [4, 7]);
    assert_eq!(records[0].cells, ["A\nB", "a@x.org", "p"]);
}

#[test]
fn short_layout_csv_is_trimmed() {
    let (reader, records) = read_all(&fixture("short.csv"), Format::Csv);
    assert_eq!(reader.layout(), Layout::Short);
    assert_eq!(
        records[1].cells,
        ["Eve Moss", "eve@example.com", "Another-Pass-42"]
    );
}

#[test]
fn a_bad_header_names_its_column() {
    let err = open(&fixture("bad_header.csv"), Format::Csv).unwrap_err();
    assert_eq!(
        err,
        FileError::BadHeader("column 3: expected 'Email', found 'E-mail'".into())
    );
}

#[test]
fn csv_cells_are_capped_and_extra_cells_reported() {
    let dir = tempfile::tempdir().unwrap();
    let long = "x".repeat(40_000);
    let text = format!("Name,Email,Password,,\r\n{long},a@x.org,p,,extra\r\n");
    let (reader, records) = read_all(&written(&dir, "a.csv", text.as_bytes()), Format::Csv);
    assert_eq!(reader.header(), ["Name", "Email", "Password"]);
    assert_eq!(records[0].cells[0].len(), 32_767);
    assert_eq!(
        codes(&records[0].errors),
        [("Name", "too_long"), ("Column 5", "unexpected_cell")]
    );
}

#[test]
fn empty_and_broken_csv_files() {
    let dir = tempfile::tempdir().unwrap();
    for text in ["", "\r\n\r\n", " , ,\n"] {
        let err = open(&written(&dir, "e.csv", text.as_bytes()), Format::Csv).unwrap_err();
        assert_eq!(err.code(), "empty_file", "{text:?}");
    }
    let (_, records) = read_all(
        &written(&dir, "h.csv", b"Name,Email,Password\n"),
        Format::Csv,
    );
    assert!(records.is_empty());

    // Valid UTF-8 with accents, then a byte that is not: unreadable mid-way.
    let text = b"Name,Email,Password\nJos\xC3\xA9,a@x.org,p\nM\xFCller,b@x.org,p\n";
    let mut reader = open(&written(&dir, "b.csv", text), Format::Csv).unwrap();
    assert_eq!(reader.next().unwrap().unwrap().cells[0], "José");
    assert!(matches!(reader.next(), Some(Err(FileError::Unreadable(_)))));
    assert!(reader.next().is_none());

    // An unclosed quote does not swallow the file into memory.
    let mut text = b"Name,Email,Password\n\"open,a,b\n".to_vec();
    text.extend(std::iter::repeat_n(b'x', 17 << 20));
    let mut reader = open(&written(&dir, "q.csv", &text), Format::Csv).unwrap();
    match reader.next() {
        Some(Err(FileError::Unreadable(message))) => {
            assert!(message.contains("quote"), "{message}")
        }
        other => panic!("expected unreadable, got {other:?}"),
    }
}

#[test]
fn json_array_with_snake_case_keys() {
    let (reader, records) = read_all(&fixture("array_snake.json"), Format::Json);
    assert_eq!(reader.layout(), Layout::Hashed);
    assert_eq!(reader.header(), FULL_COLUMNS);
    assert_eq!(HASHED_COLUMNS[6], "Password Hash");
    assert_eq!(rows(&records), [2, 3]);
    assert_eq!(records[0].cells, ana_in_json());
}

#[test]
fn json_object_with_column_names_booleans_and_numbers() {
    let (_, records) = read_all(&fixture("technicians_object.json"), Format::Json);
    assert_eq!(rows(&records), [2, 3]);
    let ana = &records[0].cells;
    assert_eq!(
        (ana[1].as_str(), ana[7].as_str(), ana[9].as_str()),
        ("", "Yes", "No")
    );
    assert_eq!(ana[10], "42");
    assert!(records[0].errors.is_empty());
    assert_eq!(records[1].cells[2], "bob@example.com");
    assert_eq!(codes(&records[1].errors), [("color", "unknown_field")]);
}

#[test]
fn json_reads_a_password_hash_under_either_key() {
    let dir = tempfile::tempdir().unwrap();
    let text = r#"[{"name": "A", "password_hash": "$2b$04$x"}, {"Password Hash": "h"}]"#;
    let (_, records) = read_all(&written(&dir, "h.json", text.as_bytes()), Format::Json);
    assert_eq!(records[0].cells[6], "$2b$04$x");
    assert_eq!(records[1].cells[6], "h");
    assert!(records.iter().all(|r| r.errors.is_empty()));
}

#[test]
fn json_values_and_structure() {
    let dir = tempfile::tempdir().unwrap();
    let text = r#"[{"name": "A", "tech_group_id": 42.0, "description": 1.5},
        {}, null, {"email": ["x"], "name": {"a": 1}},
        {"nickname": "a\"]},{"}]"#;
    let (_, records) = read_all(&written(&dir, "a.json", text.as_bytes()), Format::Json);
    assert_eq!(rows(&records), [2, 5, 6]);
    assert_eq!(
        (records[0].cells[10].as_str(), records[0].cells[4].as_str()),
        ("42", "1.5")
    );
    assert_eq!(
        codes(&records[1].errors),
        [("Email", "invalid_value"), ("Name", "invalid_value")]
    );
    assert_eq!(records[2].cells[1], "a\"]},{");

    for text in ["", "[]", " {\"technicians\": [ ] }"] {
        let err = open(&written(&dir, "e.json", text.as_bytes()), Format::Json).unwrap_err();
        assert_eq!(err.code(), "empty_file", "{text:?}");
    }
    let err = open(&written(&dir, "o.json", b"{\"people\": []}"), Format::Json).unwrap_err();
    assert_eq!(err.code(), "unreadable_file");

    // Broken mid-way: the good rows, then one error, then the end.
    for text in [
        r#"[{"name": "A"}, {"name": ]"#,
        r#"[{"name": "A"}, 7]"#,
        r#"[{"name": "A"},]"#,
        r#"[{"name": "A"}] trailing"#,
        r#"[{"name": "A"}"#,
    ] {
        let mut reader = open(&written(&dir, "b.json", text.as_bytes()), Format::Json).unwrap();
        assert!(matches!(reader.next(), Some(Ok(_))), "{text}");
        assert!(
            matches!(reader.next(), Some(Err(FileError::Unreadable(_)))),
            "{text}"
        );
        assert!(reader.next().is_none(), "{text}");
    }

    // A huge element is refused without being parsed.
    let text = format!("[{{\"name\": \"{}\"}}]", "x".repeat(5 << 20));
    let mut reader = open(&written(&dir, "h.json", text.as_bytes()), Format::Json).unwrap();
    assert!(matches!(reader.next(), Some(Err(FileError::Unreadable(_)))));
}

#[test]
fn xlsx_cells_read_as_a_person_sees_them() {
    let (reader, records) = read_all(&fixture("full.xlsx"), Format::Xlsx);
    assert_eq!(reader.layout(), Layout::Full);
    assert_eq!(reader.header(), FULL_COLUMNS);
    assert_eq!(rows(&records), [2, 4, 5]);
    let ana = &records[0].cells;
    assert_eq!(ana[3], "12345678901234");
    assert_eq!(ana[4], "2024-03-01");
    assert_eq!((ana[6].as_str(), ana[8].as_str()), ("TRUE", "FALSE"));
    assert_eq!(ana[9], "42");
    assert_eq!(records[1].cells[4], "0.3");
    assert_eq!(records[2].cells[4], "2024-03-01T14:30:00");
    assert_eq!(records[2].cells[9], "42.5");
}

#[test]
fn xlsx_short_layout_keeps_its_header_as_written() {
    let (reader, records) = read_all(&fixture("short.xlsx"), Format::Xlsx);
    assert_eq!(reader.layout(), Layout::Short);
    assert_eq!(reader.header(), ["name", "EMAIL", "Password"]);
    assert_eq!(records.len(), 2);
}

#[test]
fn json_a_column_named_twice_fails_its_row() {
    let dir = tempfile::tempdir().unwrap();
    let text = r#"[{"Name": "A", "Email": "a@x.test", "Email": "b@x.test"},
        {"name": "B", "Email": "c@x.test", "email": "d@x.test"},
        {"name": "C", "email": "e@x.test"}]"#;
    let (_, records) = read_all(&written(&dir, "a.json", text.as_bytes()), Format::Json);
    assert_eq!(rows(&records), [2, 3, 4]);
    for record in &records[..2] {
        assert_eq!(codes(&record.errors), [("Email", "duplicate_key")]);
        // The first value stays; the row fails anyway.
        assert!(record.cells[2] == "a@x.test" || record.cells[2] == "c@x.test");
    }
    assert!(records[2].errors.is_empty());
}
