//! Writing the result spreadsheet row by row, in constant memory.

use std::path::{Path, PathBuf};

use rust_xlsxwriter::{ColNum, Format, RowNum, Workbook};

use super::ReportError;

/// The name of the sheet that holds the uploaded rows and their Result.
pub const ROWS_SHEET: &str = "Technicians";
/// The name of the sheet that holds the counts.
pub const SUMMARY_SHEET: &str = "Summary";
/// The header of the column appended to the uploaded ones.
pub const RESULT_COLUMN: &str = "Result";

/// Excel's longest cell, in UTF-16 code units (what rust_xlsxwriter counts).
const MAX_CELL_UNITS: usize = 32_767;
/// Excel's rows per worksheet.
const MAX_ROWS: RowNum = 1_048_576;
/// Excel's columns per worksheet.
const MAX_COLUMNS: usize = 16_384;

/// Writes the result spreadsheet: create it with the uploaded header, write
/// every uploaded row in file order, then [`ResultWriter::finish`] to add the
/// Summary sheet and save. Memory stays constant whatever the row count: rows
/// go to a temporary file as they are written.
pub struct ResultWriter {
    workbook: Workbook,
    path: PathBuf,
    /// Uploaded columns; the Result column comes right after them.
    columns: ColNum,
    password_index: usize,
    next_row: RowNum,
}

impl ResultWriter {
    /// Starts a result spreadsheet that [`ResultWriter::finish`] will save at `path`.
    ///
    /// `header`: the uploaded file's header cells (for JSON, the full layout's
    /// columns); `password_index`: the Password column, whose cells are written
    /// empty, never the password.
    pub fn create(
        path: &Path,
        header: &[String],
        password_index: usize,
    ) -> Result<Self, ReportError> {
        if password_index >= header.len() {
            return Err(ReportError::PasswordColumn {
                index: password_index,
                columns: header.len(),
            });
        }
        let columns = ColNum::try_from(header.len())
            .ok()
            .filter(|columns| usize::from(*columns) < MAX_COLUMNS)
            .ok_or(ReportError::TooManyColumns(header.len()))?;

        let mut workbook = Workbook::new();
        // The rows sheet is deflated as a whole when the file is saved, after the
        // last chunk: at the default level that took 20 s of the end of a
        // 1,000,000-row import. The fastest level makes the file somewhat larger.
        workbook.set_zip_compression_level(1);
        let sheet = workbook.add_worksheet_with_constant_memory()?;
        sheet.set_name(ROWS_SHEET)?;
        sheet.set_freeze_panes(1, 0)?;
        sheet.set_column_range_width(0, columns - 1, 20)?;
        sheet.set_column_width(columns, 60)?;
        let bold = Format::new().set_bold();
        for (column, name) in (0..).zip(header) {
            sheet.write_string_with_format(0, column, fit(name), &bold)?;
        }
        sheet.write_string_with_format(0, columns, RESULT_COLUMN, &bold)?;

        Ok(Self {
            workbook,
            path: path.to_owned(),
            columns,
            password_index,
            next_row: 1,
        })
    }

    /// Writes the next uploaded row: its cells in header order, then its
    /// Result text (see [`super::result_text`]).
    ///
    /// Every cell is written as text; a cell over Excel's 32,767 characters is
    /// cut to fit; the Password cell is left empty; cells past the header's
    /// width have no column and are not written.
    pub fn write_row(&mut self, cells: &[String], result: &str) -> Result<(), ReportError> {
        if self.next_row >= MAX_ROWS {
            return Err(ReportError::TooManyRows);
        }
        let row = self.next_row;
        let sheet = self.workbook.worksheet_from_index(0)?;
        for (column, cell) in (0..self.columns).zip(cells) {
            if usize::from(column) != self.password_index {
                sheet.write_string(row, column, fit(cell))?;
            }
        }
        sheet.write_string(row, self.columns, fit(result))?;
        self.next_row += 1;
        Ok(())
    }

    /// Adds the Summary sheet with `summary`'s counts and notes, and saves the file.
    pub fn finish(mut self, summary: &Summary) -> Result<(), ReportError> {
        let sheet = self.workbook.add_worksheet();
        sheet.set_name(SUMMARY_SHEET)?;
        sheet.set_column_width(0, 24)?;
        sheet.set_column_width(1, 40)?;
        let bold = Format::new().set_bold();
        let mut row: RowNum = 0;
        for (label, count) in summary.counts() {
            sheet.write_string_with_format(row, 0, label, &bold)?;
            // Counts stay far below 2^53, so the f64 is exact.
            sheet.write_number(row, 1, count as f64)?;
            row += 1;
        }
        for (label, value) in &summary.notes {
            sheet.write_string_with_format(row, 0, fit(label), &bold)?;
            sheet.write_string(row, 1, fit(value))?;
            row += 1;
        }
        self.workbook.save(&self.path)?;
        Ok(())
    }
}

/// The counts of the Summary sheet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub total: u64,
    pub created: u64,
    pub updated: u64,
    pub skipped: u64,
    pub valid: u64,
    pub failed: u64,
    pub not_processed: u64,
    /// Extra label/value lines written after the counts (file name, dry run...).
    pub notes: Vec<(String, String)>,
}

impl Summary {
    fn counts(&self) -> [(&'static str, u64); 7] {
        [
            ("Total rows", self.total),
            ("Created", self.created),
            ("Updated", self.updated),
            ("Skipped", self.skipped),
            ("Valid", self.valid),
            ("Failed", self.failed),
            ("Not processed", self.not_processed),
        ]
    }
}

/// `text` cut to Excel's cell limit, on a character boundary.
fn fit(text: &str) -> &str {
    // A UTF-16 code unit takes at least one UTF-8 byte.
    if text.len() <= MAX_CELL_UNITS {
        return text;
    }
    let mut units = 0;
    for (at, ch) in text.char_indices() {
        units += ch.len_utf16();
        if units > MAX_CELL_UNITS {
            return &text[..at];
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FULL_COLUMNS, FieldError, RowStatus};
    use crate::report::result_text;
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
            .write_row(
                &full_row(
                    "Ana Example",
                    "ana@example.com",
                    "Correct-Horse-Battery-9",
                    "0012",
                ),
                &result_text(RowStatus::Created, &[]),
            )
            .expect("row 2");
        let weak = FieldError::new(
            "Password",
            "weak_password",
            "too weak (strength 1 of 4, needs 2)",
        );
        writer
            .write_row(
                &full_row(formula, "bo@example.com", "hunter2hunter2", "1"),
                &result_text(RowStatus::Failed, &[weak]),
            )
            .expect("row 3");
        let long = "x".repeat(40_000);
        writer
            .write_row(&full_row(&long, "cy@example.com", "", "1"), "Valid")
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
        assert_eq!(text_at(&summary, 7, 0), "File");
        assert_eq!(text_at(&summary, 7, 1), "technicians.csv");

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
}
