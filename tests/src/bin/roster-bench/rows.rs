//! The generated technicians, the credentials they carry, and the file that
//! uploads them.

use roster_shared::model::{FULL_COLUMNS, HASHED_COLUMNS};
use roster_tests::strong_password;

/// One generated technician.
pub(crate) struct Row {
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) password: String,
}

/// `n` technicians `tech{i}@bench.test`, each with a password of its own, or all
/// with the same one (`shared`), as a bulk file that hands out one first
/// password does.
pub(crate) fn generate(n: usize, shared: bool) -> Vec<Row> {
    (0..n)
        .map(|i| Row {
            name: format!("Tech {i}"),
            email: email(i),
            password: strong_password(if shared { 0 } else { i }),
        })
        .collect()
}

/// The email of generated row `i`: an existing technician given the same one
/// (`--existing` with the file's emails) is the row's match.
pub(crate) fn email(i: usize) -> String {
    format!("tech{i}@bench.test")
}

/// The password hashes the rows end up with: each row's own (hashed by the
/// hash floor), or, with `--password-hash`, one hash made once that every row
/// carries in its Password Hash column.
pub(crate) enum Hashes {
    Each(Vec<String>),
    One(String),
}

impl Hashes {
    pub(crate) fn get(&self, i: usize) -> &str {
        match self {
            Hashes::Each(all) => &all[i],
            Hashes::One(one) => one,
        }
    }
}

/// The rows in the full layout as a CSV or an xlsx (one worksheet, every cell a
/// string but Tech Group ID, a number, as a person would type it): (file name,
/// bytes). With `hash`, the layout has the Password Hash column, every row
/// giving that hash and no password.
pub(crate) fn file(
    format: &str,
    rows: &[Row],
    group: i64,
    hash: Option<&str>,
) -> anyhow::Result<(&'static str, Vec<u8>)> {
    Ok(match format {
        "xlsx" => ("bench.xlsx", xlsx(rows, group, hash)?),
        _ => ("bench.csv", csv(rows, group, hash).into_bytes()),
    })
}

fn columns(hash: Option<&str>) -> &'static [&'static str] {
    match hash {
        Some(_) => &HASHED_COLUMNS,
        None => &FULL_COLUMNS,
    }
}

fn csv(rows: &[Row], group: i64, hash: Option<&str>) -> String {
    let mut out = columns(hash).join(",");
    out.push('\n');
    for row in rows {
        let (name, email) = (&row.name, &row.email);
        match hash {
            // Quoted: a PHC string's parameters are separated by commas.
            Some(hash) => out.push_str(&format!(
                "{name},,{email},,,,\"{hash}\",Yes,Yes,No,{group}\n"
            )),
            None => out.push_str(&format!(
                "{name},,{email},,,{},Yes,Yes,No,{group}\n",
                row.password
            )),
        }
    }
    out
}

fn xlsx(rows: &[Row], group: i64, hash: Option<&str>) -> anyhow::Result<Vec<u8>> {
    let mut book = rust_xlsxwriter::Workbook::new();
    // Shared strings, as Excel writes them: the reader holds their table whole.
    let sheet = book.add_worksheet_with_low_memory()?;
    let columns = columns(hash);
    for (col, title) in (0u16..).zip(columns) {
        sheet.write_string(0, col, *title)?;
    }
    // The columns after Password move one to the right with Password Hash.
    let shift = u16::from(hash.is_some());
    for (n, row) in (1u32..).zip(rows) {
        let credential = match hash {
            Some(hash) => (6, hash),
            None => (5, row.password.as_str()),
        };
        for (col, text) in [
            (0, row.name.as_str()),
            (2, row.email.as_str()),
            credential,
            (6 + shift, "Yes"),
            (7 + shift, "Yes"),
            (8 + shift, "No"),
        ] {
            sheet.write_string(n, col, text)?;
        }
        sheet.write_number(n, 9 + shift, group as f64)?;
    }
    Ok(book.save_to_buffer()?)
}
