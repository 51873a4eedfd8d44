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
mod tests;
