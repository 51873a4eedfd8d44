use super::*;
use crate::model::{FULL_COLUMNS, FieldError, RowStatus};
use calamine::{Data, Reader, Xlsx, open_workbook};

fn strings(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| (*c).to_owned()).collect()
}

fn text_at(range: &calamine::Range<Data>, row: u32, column: u32) -> String {
    match range.get_value((row, column)) {
        Some(Data::String(text)) => text.clone(),
        Some(Data::Empty) | None => String::new(),
        Some(other) => panic!("cell ({row}, {column}) is not text: {other:?}"),
    }
}

fn full_row(name: &str, email: &str, password: &str, group: &str) -> Vec<String> {
    strings(&[name, "", email, "", "", password, "Yes", "Yes", "No", group])
}

#[test]
fn rows_are_written_as_text_without_passwords_and_with_a_summary() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("result.xlsx");
    let header = strings(&FULL_COLUMNS);
    let mut writer = ResultWriter::create(&path, &header, 5).expect("create");

    let formula = "=HYPERLINK(\"http://evil.example\",\"click\")";
    writer
        .write_outcome(
            &full_row(
                "Ana Example",
                "ana@example.com",
                "Correct-Horse-Battery-9",
                "0012",
            ),
            RowStatus::Created,
            &[],
        )
        .expect("row 2");
    let weak = FieldError::new(
        "Password",
        "weak_password",
        "too weak (strength 1 of 4, needs 2)",
    );
    writer
        .write_outcome(
            &full_row(formula, "bo@example.com", "hunter2hunter2", "1"),
            RowStatus::Failed,
            &[weak],
        )
        .expect("row 3");
    let long = "x".repeat(40_000);
    writer
        .write_outcome(
            &full_row(&long, "cy@example.com", "", "1"),
            RowStatus::Valid,
            &[],
        )
        .expect("row 4");
    writer
        .finish(&Summary {
            total: 3,
            created: 1,
            valid: 1,
            failed: 1,
            notes: vec![("File".to_owned(), "technicians.csv".to_owned())],
            ..Summary::default()
        })
        .expect("finish");

    let mut workbook: Xlsx<_> = open_workbook(&path).expect("open");
    assert_eq!(workbook.sheet_names(), [ROWS_SHEET, SUMMARY_SHEET]);
    let rows = workbook.worksheet_range(ROWS_SHEET).expect("rows sheet");
    assert_eq!(rows.get_size(), (4, 11));

    let mut expected_header = header.clone();
    expected_header.push("Result".to_owned());
    let header_read: Vec<String> = (0..11).map(|c| text_at(&rows, 0, c)).collect();
    assert_eq!(header_read, expected_header);

    assert_eq!(text_at(&rows, 1, 0), "Ana Example");
    assert_eq!(text_at(&rows, 1, 9), "0012");
    assert_eq!(text_at(&rows, 1, 10), "Success");
    assert_eq!(text_at(&rows, 2, 0), formula);
    assert_eq!(
        text_at(&rows, 2, 10),
        "Error: Password: too weak (strength 1 of 4, needs 2)"
    );
    assert_eq!(text_at(&rows, 3, 0).len(), 32_767);
    for row in 1..4 {
        assert_eq!(text_at(&rows, row, 5), "", "password cell of row {row}");
    }

    let summary = workbook
        .worksheet_range(SUMMARY_SHEET)
        .expect("summary sheet");
    assert_eq!(text_at(&summary, 0, 0), "Total rows");
    assert_eq!(summary.get_value((0, 1)), Some(&Data::Float(3.0)));
    assert_eq!(text_at(&summary, 5, 0), "Failed");
    assert_eq!(summary.get_value((5, 1)), Some(&Data::Float(1.0)));
    assert_eq!(text_at(&summary, 7, 0), "Unchanged");
    assert_eq!(text_at(&summary, 8, 0), "Disabled");
    assert_eq!(text_at(&summary, 9, 0), "File");
    assert_eq!(text_at(&summary, 9, 1), "technicians.csv");

    assert_eq!(text_at(&summary, 11, 0), "Failed rows by error");
    assert_eq!(text_at(&summary, 12, 0), "weak_password");
    assert_eq!(summary.get_value((12, 1)), Some(&Data::Float(1.0)));

    // Made to be read: a filter on the header, sized columns, coloured results.
    let part = |name: &str| {
        let bytes = std::fs::read(&path).expect("read back");
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("zip");
        let mut xml = String::new();
        std::io::Read::read_to_string(&mut archive.by_name(name).expect(name), &mut xml)
            .expect("xml");
        xml
    };
    let sheet = part("xl/worksheets/sheet1.xml");
    assert!(sheet.contains(r#"<autoFilter ref="A1:K4"/>"#), "{sheet}");
    assert!(sheet.contains("<cols>") && sheet.contains("customWidth=\"1\""));
    let styles = part("xl/styles.xml");
    for colour in ["FFC6EFCE", "FFEDEDED", "FFFFC7CE"] {
        assert!(styles.contains(colour), "{colour} in {styles}");
    }
    let style_of = |cell: &str| {
        let at = sheet.find(&format!(r#"<c r="{cell}""#)).expect(cell);
        let tag = &sheet[at..at + sheet[at..].find('>').expect("tag end")];
        tag.split(" s=\"")
            .nth(1)
            .map(|s| s.split('"').next().unwrap_or("").to_owned())
    };
    let (success, error, valid) = (style_of("K2"), style_of("K3"), style_of("K4"));
    assert!(success.is_some() && error.is_some() && valid.is_some());
    assert!(success != error && error != valid && success != valid);

    // The password never reaches the file, not even compressed in some part.
    let bytes = std::fs::read(&path).expect("read back");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("zip");
    for index in 0..archive.len() {
        let mut part = archive.by_index(index).expect("part");
        let mut xml = String::new();
        std::io::Read::read_to_string(&mut part, &mut xml).expect("xml");
        assert!(!xml.contains("hunter2hunter2"));
        assert!(!xml.contains("<f>"), "no formula anywhere");
    }
}

#[test]
fn two_hundred_thousand_rows_are_written_in_constant_memory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("big.xlsx");
    let header = strings(&FULL_COLUMNS);
    let mut writer = ResultWriter::create(&path, &header, 5).expect("create");
    for n in 0..200_000 {
        let email = format!("tech{n}@example.com");
        writer
            .write_row(
                &full_row("Tech Person", &email, "secret-pass", "1"),
                "Success",
            )
            .expect("row");
    }
    writer
        .finish(&Summary {
            total: 200_000,
            created: 200_000,
            ..Summary::default()
        })
        .expect("finish");
    assert!(std::fs::metadata(&path).expect("saved").len() > 0);
}

#[test]
fn a_password_column_outside_the_header_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let header = strings(&["Name", "Email"]);
    let error = ResultWriter::create(&dir.path().join("r.xlsx"), &header, 2)
        .err()
        .expect("refused");
    assert!(matches!(
        error,
        ReportError::PasswordColumn {
            index: 2,
            columns: 2
        }
    ));
}

#[test]
fn cells_are_cut_on_a_character_boundary() {
    let emoji = "😀".repeat(20_000); // two UTF-16 units each
    let cut = fit(&emoji);
    assert_eq!(cut.chars().count(), 16_383);
    assert_eq!(fit("short"), "short");
}
