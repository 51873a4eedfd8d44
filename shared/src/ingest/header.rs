//! Recognising the header row (API.md, "Import files"): the full layout's ten
//! columns (or eleven, with `Password Hash` after Password) or the short
//! layout's three, in order, compared ignoring case,
//! surrounding spaces, a byte-order mark and empty trailing cells. Anything
//! else is `bad_header`, naming the first column that differs.

use super::row::clip;
use crate::model::{FULL_COLUMNS, FileError, HASHED_COLUMNS, Layout, SHORT_COLUMNS};

/// Header cells longer than this are cut (no layout has a column name near it).
const MAX_HEADER_CELL_CHARS: usize = 1_024;
/// How much of a wrong header cell a message quotes.
const QUOTED_CHARS: usize = 60;

/// The header cells as written: trimmed, each capped, trailing empty cells dropped.
pub(super) fn clean<'a>(cells: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut cleaned: Vec<String> = cells
        .into_iter()
        .map(|cell| clip(cell, MAX_HEADER_CELL_CHARS).0.to_owned())
        .collect();
    while cleaned.last().is_some_and(String::is_empty) {
        cleaned.pop();
    }
    cleaned
}

/// The layout `header` (as [`clean`] returns it) carries, or `bad_header`.
pub(super) fn recognize(header: &[String]) -> Result<Layout, FileError> {
    for layout in [Layout::Full, Layout::Hashed, Layout::Short] {
        if header.len() == layout.columns().len() && matching_prefix(header, layout) == header.len()
        {
            return Ok(layout);
        }
    }
    // Compare with the layout the file seems to aim at: the one whose first
    // columns it matches further, else the one closer in width.
    // Between the full layout with and without Password Hash, the one matched
    // further, else the one as wide as the header.
    let plain = matching_prefix(header, Layout::Full);
    let hashed = matching_prefix(header, Layout::Hashed);
    let (full, full_layout) =
        if hashed > plain || (hashed == plain && header.len() == HASHED_COLUMNS.len()) {
            (hashed, Layout::Hashed)
        } else {
            (plain, Layout::Full)
        };
    let short = matching_prefix(header, Layout::Short);
    let aimed = if short > full || (short == full && header.len() <= SHORT_COLUMNS.len()) {
        Layout::Short
    } else {
        full_layout
    };
    Err(FileError::BadHeader(first_difference(header, aimed)))
}

fn same(cell: &str, column: &str) -> bool {
    cell.eq_ignore_ascii_case(column)
}

fn matching_prefix(header: &[String], layout: Layout) -> usize {
    header
        .iter()
        .zip(layout.columns())
        .take_while(|(cell, column)| same(cell, column))
        .count()
}

fn first_difference(header: &[String], layout: Layout) -> String {
    let columns = layout.columns();
    let at = matching_prefix(header, layout);
    let number = at + 1;
    match (columns.get(at), header.get(at)) {
        (Some(expected), Some(found)) => {
            format!(
                "column {number}: expected '{expected}', found {}",
                quote(found)
            )
        }
        (Some(expected), None) => format!("column {number}: expected '{expected}', found nothing"),
        (None, _) => {
            // Past the layout's end: name the first cell that is not empty.
            let (index, found) = header
                .iter()
                .enumerate()
                .skip(at)
                .find(|(_, cell)| !cell.is_empty())
                .map_or((at, ""), |(index, cell)| (index, cell.as_str()));
            extra_column(index, found, layout)
        }
    }
}

/// The message for a non-empty header cell at 0-based `index`, past the layout's columns.
pub(super) fn extra_column(index: usize, found: &str, layout: Layout) -> String {
    format!(
        "column {}: expected no more columns (the {} layout has {}), found {}",
        index.saturating_add(1),
        layout.as_str(),
        layout.columns().len(),
        quote(found)
    )
}

/// A wrong header cell as a message may show it: only when it is a column name
/// (of either layout, in any case, spacing or punctuation, as `E-mail` is), so
/// that a header row that holds data (a password typed in, a file without a
/// header) never travels into the import's error and the database.
fn quote(cell: &str) -> String {
    if cell.is_empty() {
        return "nothing".to_owned();
    }
    if !is_column_name(cell) {
        return format!(
            "a name of {} characters that is no column name (not shown, in case it is data)",
            cell.chars().count()
        );
    }
    let (shown, cut) = clip(cell, QUOTED_CHARS);
    if cut {
        format!("'{shown}...'")
    } else {
        format!("'{shown}'")
    }
}

/// Whether `cell` names a column once case, spaces and punctuation are set aside.
fn is_column_name(cell: &str) -> bool {
    let letters = |text: &str| -> String {
        text.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    let cell = letters(cell);
    !cell.is_empty() && HASHED_COLUMNS.iter().any(|column| letters(column) == cell)
}

/// The header JSON files' results show: the full layout's columns (their
/// records also hold a Password Hash, which a result never shows).
pub(super) fn full_columns() -> Vec<String> {
    FULL_COLUMNS.iter().map(|&c| c.to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(cells: &[&str]) -> Result<Layout, FileError> {
        recognize(&clean(cells.iter().copied()))
    }

    fn message(cells: &[&str]) -> String {
        match check(cells) {
            Err(FileError::BadHeader(message)) => message,
            other => panic!("expected bad_header, got {other:?}"),
        }
    }

    #[test]
    fn both_layouts_are_recognised_loosely() {
        let mut full: Vec<&str> = FULL_COLUMNS.to_vec();
        assert_eq!(check(&full), Ok(Layout::Full));
        full[0] = "\u{feff} NAME ";
        full.extend(["", "  "]);
        assert_eq!(check(&full), Ok(Layout::Full));
        assert_eq!(check(&["name", "Email ", " password"]), Ok(Layout::Short));
        assert_eq!(check(&HASHED_COLUMNS), Ok(Layout::Hashed));
    }

    #[test]
    fn a_misspelt_password_hash_column_is_named() {
        let mut hashed: Vec<&str> = HASHED_COLUMNS.to_vec();
        hashed[6] = "Password-Hash";
        assert_eq!(
            message(&hashed),
            "column 7: expected 'Password Hash', found 'Password-Hash'"
        );
        // Password Hash anywhere but after Password is no layout.
        let mut moved: Vec<&str> = FULL_COLUMNS.to_vec();
        moved.push("Password Hash");
        assert_eq!(
            message(&moved),
            "column 11: expected no more columns (the full layout has 10), found 'Password Hash'"
        );
    }

    #[test]
    fn a_bad_header_names_the_first_column_that_differs() {
        let mut full: Vec<&str> = FULL_COLUMNS.to_vec();
        full[2] = "E-mail";
        assert_eq!(message(&full), "column 3: expected 'Email', found 'E-mail'");
        assert_eq!(
            message(&FULL_COLUMNS[..3]),
            "column 4: expected 'Single Sign-On ID', found nothing"
        );
        assert_eq!(
            message(&["Name", "E-mail", "Password"]),
            "column 2: expected 'Email', found 'E-mail'"
        );
        assert_eq!(
            message(&["Name", "Email", "Password", "", "Notes"]),
            "column 5: expected no more columns (the short layout has 3), found a name of 5 characters that is no column name (not shown, in case it is data)"
        );
        assert_eq!(
            message(&["Name", "Email", "Password", "Tech_Group_ID"]),
            "column 4: expected no more columns (the short layout has 3), found 'Tech_Group_ID'"
        );
        assert_eq!(
            message(&["Name", "", "Email"]),
            "column 2: expected 'Email', found nothing"
        );
        assert_eq!(message(&[]), "column 1: expected 'Name', found nothing");
    }

    #[test]
    fn a_header_cell_that_is_no_column_name_is_never_repeated() {
        // A header row of data: the password must not reach the message.
        let m = message(&["Ana", "ana@acme.test", "Secr3t!Pass"]);
        assert!(!m.contains("Ana") && !m.contains("Secr3t"), "{m}");
        let m = message(&["Name", "Email", "Secr3t!Pass"]);
        assert_eq!(
            m,
            "column 3: expected 'Password', found a name of 11 characters that is no column name (not shown, in case it is data)"
        );
    }
}
