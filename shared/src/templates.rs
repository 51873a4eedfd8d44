//! Example import files served at `/v1/templates/technicians.{csv,json,xlsx}`.
//!
//! The rule kept here: every template carries exactly the full layout's header
//! with its Password Hash column ([`HASHED_COLUMNS`], or [`HASHED_KEYS`] for
//! JSON; the example gives a password, so its hash cell is empty) and one example row that
//! passes validation as it stands, so a user who edits the row in place gets a
//! file that imports. All three are built from the same [`EXAMPLE`] row.

use rust_xlsxwriter::{Format, Workbook, XlsxError};
use serde_json::Value;

use crate::model::{HASHED_COLUMNS, HASHED_KEYS};

/// The example technician, in [`HASHED_COLUMNS`] order. The password is an
/// obviously fake example that meets the default policy; users replace it (or
/// leave it empty and give a Password Hash instead).
pub const EXAMPLE: [&str; 11] = [
    "Ana Example",
    "Ana",
    "ana@example.com",
    "",
    "Tier 1 support",
    "Correct-Horse-Battery-9",
    "",
    "Yes",
    "Yes",
    "No",
    "1",
];

/// The CSV template: comma-delimited UTF-8 with CRLF line ends.
pub fn csv() -> Vec<u8> {
    // No header or example value holds a comma, quote or line break, so no
    // field needs quoting (a test keeps that true).
    format!("{}\r\n{}\r\n", HASHED_COLUMNS.join(","), EXAMPLE.join(",")).into_bytes()
}

/// The JSON template: `{"technicians": [{...}]}` with snake_case keys in
/// column order, booleans as JSON booleans and the group id as a number.
pub fn json() -> Vec<u8> {
    // Written by hand rather than through a map so the keys keep the columns'
    // order; `Value`'s `Display` does the escaping and cannot fail.
    let fields: Vec<String> = HASHED_COLUMNS
        .iter()
        .zip(HASHED_KEYS)
        .zip(EXAMPLE)
        .map(|((column, key), value)| {
            let value = match *column {
                "Enabled" | "Standard License" | "Mobile License" => {
                    Value::Bool(crate::validate::parse_bool(value).unwrap_or(false))
                }
                "Tech Group ID" => value.parse::<i64>().map_or(Value::Null, Value::from),
                _ => Value::from(value),
            };
            format!("      {}: {value}", Value::from(key))
        })
        .collect();
    format!(
        "{{\n  \"technicians\": [\n    {{\n{}\n    }}\n  ]\n}}\n",
        fields.join(",\n")
    )
    .into_bytes()
}

/// The xlsx template: one worksheet, `Technicians`, every cell text.
///
/// # Panics
///
/// Never in practice: the workbook's content is fixed, fits every Excel
/// limit, and is built in memory (a test builds it).
pub fn xlsx() -> Vec<u8> {
    build_xlsx().expect("the fixed xlsx template is within every Excel limit")
}

fn build_xlsx() -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name("Technicians")?;
    sheet.set_freeze_panes(1, 0)?;
    let bold = Format::new().set_bold();
    for (column, (name, value)) in (0..).zip(HASHED_COLUMNS.iter().zip(EXAMPLE)) {
        sheet.set_column_width(column, 22)?;
        sheet.write_string_with_format(0, column, *name, &bold)?;
        sheet.write_string(1, column, value)?;
    }
    workbook.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Layout, Record};
    use crate::validate::{NewTechnician, RowRules};
    use calamine::{Data, Reader, Xlsx};

    fn passes_validation(cells: Vec<String>) {
        let record = Record {
            row: 2,
            cells,
            errors: Vec::new(),
        };
        let rules = RowRules {
            layout: Layout::Hashed,
            global_group: None,
            min_password_length: 8,
            min_password_strength: 2,
            strength_memo: None,
        };
        if let Err(errors) = NewTechnician::parse(&record, &rules) {
            panic!("the example row fails: {errors:?}");
        }
    }

    #[test]
    fn the_csv_template_has_the_full_header_and_a_valid_row() {
        let bytes = csv();
        assert!(bytes.starts_with(b"Name,Nickname,Email,Single Sign-On ID,"));
        let mut reader = ::csv::Reader::from_reader(bytes.as_slice());
        let header: Vec<String> = reader
            .headers()
            .expect("header")
            .iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(header, HASHED_COLUMNS);
        let rows: Vec<::csv::StringRecord> =
            reader.records().collect::<Result<_, _>>().expect("rows");
        assert_eq!(rows.len(), 1);
        let cells: Vec<String> = rows[0].iter().map(str::to_owned).collect();
        assert_eq!(cells, EXAMPLE);
        passes_validation(cells);
    }

    #[test]
    fn the_json_template_has_the_snake_case_keys_in_order() {
        let bytes = json();
        let value: Value = serde_json::from_slice(&bytes).expect("valid JSON");
        let technician = &value["technicians"][0];
        let object = technician.as_object().expect("an object");
        assert_eq!(object.len(), HASHED_KEYS.len());
        let text = String::from_utf8(bytes).expect("UTF-8");
        let positions: Vec<usize> = HASHED_KEYS
            .iter()
            .map(|key| text.find(&format!("\"{key}\":")).expect("key present"))
            .collect();
        assert!(positions.is_sorted(), "keys in column order");
        assert_eq!(technician["name"], "Ana Example");
        assert_eq!(technician["enabled"], true);
        assert_eq!(technician["mobile_license"], false);
        assert_eq!(technician["tech_group_id"], 1);
    }

    #[test]
    fn the_xlsx_template_has_the_full_header_as_text() {
        let mut workbook = Xlsx::new(std::io::Cursor::new(xlsx())).expect("a readable workbook");
        let range = workbook.worksheet_range("Technicians").expect("sheet");
        let cells = |row: u32| -> Vec<String> {
            (0..11)
                .map(|column| match range.get_value((row, column)) {
                    Some(Data::String(text)) => text.clone(),
                    Some(Data::Empty) | None => String::new(),
                    Some(other) => panic!("not text: {other:?}"),
                })
                .collect()
        };
        assert_eq!(cells(0), HASHED_COLUMNS);
        assert_eq!(cells(1), EXAMPLE);
        assert_eq!(range.get_size(), (2, 11));
        passes_validation(cells(1));
    }
}
