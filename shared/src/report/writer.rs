//! Writing the result spreadsheet row by row, in constant memory.
//!
//! Made to be read by a person: the header row is bold, frozen and filtered;
//! each Result cell is coloured by its outcome (green for Success and Updated,
//! grey for Skipped, Valid and Not processed, red for Error); columns are as
//! wide as their header and the first [`SIZED_ROWS`] rows need; the Summary
//! sheet lists the failed rows per error code. Only the first rows are held,
//! to size the columns; every later row goes straight to the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rust_xlsxwriter::{ColNum, Color, Format, RowNum, Workbook};

use super::{ReportError, result_text};
use crate::model::{FieldError, RowStatus};

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
/// Rows held back to size the columns by, before they are written.
pub const SIZED_ROWS: usize = 50;
/// Column widths, in characters: at least, at most, and at most for Result.
const MIN_WIDTH: usize = 8;
const MAX_WIDTH: usize = 50;
const MAX_RESULT_WIDTH: usize = 80;
/// Distinct error codes the Summary counts; past it, the rest are "other".
const MAX_CODES: usize = 64;

/// How a Result cell looks: Excel's own Good, Neutral and Bad colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tone {
    Good,
    Neutral,
    Bad,
}

impl Tone {
    fn of(status: RowStatus) -> Self {
        match status {
            RowStatus::Created | RowStatus::Updated | RowStatus::Disabled => Tone::Good,
            RowStatus::Skipped
            | RowStatus::Valid
            | RowStatus::NotProcessed
            | RowStatus::Unchanged => Tone::Neutral,
            RowStatus::Failed => Tone::Bad,
        }
    }

    fn format(self) -> Format {
        let (fill, font) = match self {
            Tone::Good => (0xC6EFCE, 0x006100),
            Tone::Neutral => (0xEDEDED, 0x595959),
            Tone::Bad => (0xFFC7CE, 0x9C0006),
        };
        Format::new()
            .set_background_color(Color::RGB(fill))
            .set_font_color(Color::RGB(font))
    }
}

/// A row waiting for the columns to be sized.
struct Held {
    cells: Vec<String>,
    result: String,
    tone: Tone,
}

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
    /// The header's and the held rows' widest cell per column (Result last).
    widths: Vec<usize>,
    /// The first rows, until the columns are sized; `None` once they are.
    held: Option<Vec<Held>>,
    tones: [Format; 3],
    /// Failed rows per error code (a row counts once per code it has).
    failed_by_code: BTreeMap<String, u64>,
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
        Self::open(path, header, password_index)
    }

    /// A result spreadsheet whose header has no Password column (a sync run's).
    pub fn create_without_password(path: &Path, header: &[String]) -> Result<Self, ReportError> {
        Self::open(path, header, usize::MAX)
    }

    fn open(path: &Path, header: &[String], password_index: usize) -> Result<Self, ReportError> {
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
        let bold = Format::new().set_bold();
        for (column, name) in (0..).zip(header) {
            sheet.write_string_with_format(0, column, fit(name), &bold)?;
        }
        sheet.write_string_with_format(0, columns, RESULT_COLUMN, &bold)?;
        let widths = header
            .iter()
            .map(|name| width(name))
            .chain([width(RESULT_COLUMN)])
            .collect();

        Ok(Self {
            workbook,
            path: path.to_owned(),
            columns,
            password_index,
            next_row: 1,
            widths,
            held: Some(Vec::with_capacity(SIZED_ROWS)),
            tones: [
                Tone::Good.format(),
                Tone::Neutral.format(),
                Tone::Bad.format(),
            ],
            failed_by_code: BTreeMap::new(),
        })
    }

    /// Writes the next uploaded row and its outcome: its cells in header order,
    /// then the Result text of `status` and `errors` (see [`result_text`]).
    pub fn write_outcome(
        &mut self,
        cells: &[String],
        status: RowStatus,
        errors: &[FieldError],
    ) -> Result<(), ReportError> {
        if status == RowStatus::Failed {
            let mut codes: Vec<&str> = errors.iter().map(|e| e.code.as_str()).collect();
            codes.sort_unstable();
            codes.dedup();
            for code in codes {
                let known =
                    self.failed_by_code.len() < MAX_CODES || self.failed_by_code.contains_key(code);
                let key = if known { code } else { "other" };
                *self.failed_by_code.entry(key.to_owned()).or_default() += 1;
            }
        }
        self.write_toned(cells, &result_text(status, errors), Tone::of(status))
    }

    /// Writes the next uploaded row with a Result text of its own, in the
    /// neutral colour (tests and tools; imports use [`Self::write_outcome`]).
    pub fn write_row(&mut self, cells: &[String], result: &str) -> Result<(), ReportError> {
        self.write_toned(cells, result, Tone::Neutral)
    }

    /// Holds the row while the columns are being sized, else writes it.
    fn write_toned(
        &mut self,
        cells: &[String],
        result: &str,
        tone: Tone,
    ) -> Result<(), ReportError> {
        if self.next_row >= MAX_ROWS {
            return Err(ReportError::TooManyRows);
        }
        if let Some(held) = self.held.as_mut() {
            for (column, cell) in cells.iter().take(usize::from(self.columns)).enumerate() {
                if column != self.password_index {
                    self.widths[column] = self.widths[column].max(width(cell));
                }
            }
            let last = self.widths.len() - 1;
            self.widths[last] = self.widths[last].max(width(result));
            held.push(Held {
                cells: cells.to_vec(),
                result: result.to_owned(),
                tone,
            });
            if held.len() >= SIZED_ROWS {
                self.release()?;
            }
            return Ok(());
        }
        self.put(cells, result, tone)
    }

    /// Sizes the columns by what was held, then writes the held rows.
    fn release(&mut self) -> Result<(), ReportError> {
        let Some(held) = self.held.take() else {
            return Ok(());
        };
        let sheet = self.workbook.worksheet_from_index(0)?;
        let last = self.widths.len() - 1;
        for (column, chars) in self.widths.iter().enumerate() {
            let most = if column == last {
                MAX_RESULT_WIDTH
            } else {
                MAX_WIDTH
            };
            let chars = (*chars + 2).clamp(MIN_WIDTH, most);
            sheet.set_column_width(column as ColNum, chars as f64)?;
        }
        for row in held {
            self.put(&row.cells, &row.result, row.tone)?;
        }
        Ok(())
    }

    /// Writes one row: every cell as text, cut to Excel's 32,767 characters,
    /// the Password cell left empty, cells past the header's width left out.
    fn put(&mut self, cells: &[String], result: &str, tone: Tone) -> Result<(), ReportError> {
        let row = self.next_row;
        let sheet = self.workbook.worksheet_from_index(0)?;
        for (column, cell) in (0..self.columns).zip(cells) {
            if usize::from(column) != self.password_index {
                sheet.write_string(row, column, fit(cell))?;
            }
        }
        let format = &self.tones[tone as usize];
        sheet.write_string_with_format(row, self.columns, fit(result), format)?;
        self.next_row += 1;
        Ok(())
    }

    /// Adds the Summary sheet with `summary`'s counts and notes, and saves the file.
    pub fn finish(mut self, summary: &Summary) -> Result<(), ReportError> {
        self.release()?;
        let last_row = self.next_row - 1;
        let rows = self.workbook.worksheet_from_index(0)?;
        rows.autofilter(0, 0, last_row, self.columns)?;
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
        if !self.failed_by_code.is_empty() {
            row += 1;
            sheet.write_string_with_format(row, 0, "Failed rows by error", &bold)?;
            row += 1;
            let mut by_count: Vec<_> = self.failed_by_code.iter().collect();
            by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            for (code, count) in by_count {
                sheet.write_string(row, 0, fit(code))?;
                sheet.write_number(row, 1, *count as f64)?;
                row += 1;
            }
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
    pub unchanged: u64,
    pub disabled: u64,
    /// Extra label/value lines written after the counts (file name, dry run...).
    pub notes: Vec<(String, String)>,
}

impl Summary {
    fn counts(&self) -> [(&'static str, u64); 9] {
        [
            ("Total rows", self.total),
            ("Created", self.created),
            ("Updated", self.updated),
            ("Skipped", self.skipped),
            ("Valid", self.valid),
            ("Failed", self.failed),
            ("Not processed", self.not_processed),
            ("Unchanged", self.unchanged),
            ("Disabled", self.disabled),
        ]
    }
}

/// How many characters wide `text` shows, counting its longest line.
fn width(text: &str) -> usize {
    text.lines()
        .map(|line| line.chars().take(MAX_RESULT_WIDTH).count())
        .max()
        .unwrap_or(0)
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
}
