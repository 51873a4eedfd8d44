//! One record as every reader builds it: cells in the layout's column order,
//! trimmed, capped at Excel's 32,767 characters, plus the problems found while
//! reading them. Wholly empty rows are dropped here (their number is kept by
//! the caller, which numbers rows as a spreadsheet shows them).

use crate::model::{FieldError, Layout, Record};

/// Excel's limit on a cell, and so on every cell Roster keeps.
pub(super) const MAX_CELL_CHARS: usize = 32_767;

/// `text` without surrounding whitespace (and a stray byte-order mark), cut to
/// at most `max` characters; `true` when it had to be cut.
pub(super) fn clip(text: &str, max: usize) -> (&str, bool) {
    let text = text.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    match text.char_indices().nth(max) {
        Some((end, _)) => (&text[..end], true),
        None => (text, false),
    }
}

/// A record being filled cell by cell.
pub(super) struct Draft {
    columns: &'static [&'static str],
    cells: Vec<String>,
    errors: Vec<FieldError>,
    has_value: bool,
    reported_extra: bool,
}

impl Draft {
    pub(super) fn new(layout: Layout) -> Self {
        let columns = layout.columns();
        Self {
            columns,
            cells: vec![String::new(); columns.len()],
            errors: Vec::new(),
            has_value: false,
            reported_extra: false,
        }
    }

    /// Sets the cell at `index` (0-based, in the file's column order, which is
    /// the layout's). A non-empty cell past the layout's last column is an
    /// `unexpected_cell` problem, reported once per row.
    pub(super) fn set(&mut self, index: usize, raw: &str) {
        let (value, cut) = clip(raw, MAX_CELL_CHARS);
        if value.is_empty() {
            return;
        }
        let Some(&column) = self.columns.get(index) else {
            if !self.reported_extra {
                self.reported_extra = true;
                self.errors.push(FieldError::new(
                    &format!("Column {}", index.saturating_add(1)),
                    "unexpected_cell",
                    format!(
                        "has a value, but the header has only {} columns",
                        self.columns.len()
                    ),
                ));
            }
            return;
        };
        if cut {
            self.errors.push(FieldError::new(
                column,
                "too_long",
                "is over 32,767 characters, Excel's limit for a cell (the rest is cut off)",
            ));
        }
        self.has_value = true;
        if let Some(cell) = self.cells.get_mut(index) {
            value.clone_into(cell);
        }
    }

    /// Adds a problem found while reading this row.
    pub(super) fn error(&mut self, error: FieldError) {
        self.errors.push(error);
    }

    /// The finished record, or `None` for a wholly empty row.
    pub(super) fn finish(self, row: u32) -> Option<Record> {
        (self.has_value || !self.errors.is_empty()).then_some(Record {
            row,
            cells: self.cells,
            errors: self.errors,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_trimmed_and_capped() {
        let mut draft = Draft::new(Layout::Short);
        draft.set(0, "  Ana \t");
        draft.set(1, &"é".repeat(MAX_CELL_CHARS + 5));
        let record = draft.finish(7).expect("has values");
        assert_eq!(record.row, 7);
        assert_eq!(record.cells[0], "Ana");
        assert_eq!(record.cells[1].chars().count(), MAX_CELL_CHARS);
        assert_eq!(record.cells[2], "");
        assert_eq!(record.errors.len(), 1);
        assert_eq!(record.errors[0].field, "Email");
        assert_eq!(record.errors[0].code, "too_long");
    }

    #[test]
    fn empty_rows_vanish_but_extra_cells_do_not() {
        let mut draft = Draft::new(Layout::Short);
        draft.set(0, "   ");
        draft.set(5, "");
        assert!(draft.finish(2).is_none());

        let mut draft = Draft::new(Layout::Short);
        draft.set(3, "surprise");
        draft.set(4, "again");
        let record = draft.finish(3).expect("kept for its error");
        assert_eq!(record.cells, ["", "", ""]);
        assert_eq!(record.errors.len(), 1);
        assert_eq!(record.errors[0].field, "Column 4");
        assert_eq!(record.errors[0].code, "unexpected_cell");
    }
}
