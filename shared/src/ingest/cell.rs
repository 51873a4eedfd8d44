//! An xlsx cell value as the text a person sees in Excel: an integer-valued
//! number is `42` (never `42.0`), other numbers show at most 15 significant
//! digits (Excel's precision, so `0.1 + 0.2` is `0.3`), booleans are
//! `TRUE`/`FALSE`, dates ISO 8601, errors their code (`#N/A`), and formulas
//! their cached value.

use calamine::{DataRef, ExcelDateTime};
use std::borrow::Cow;

pub(super) fn display<'a>(value: &'a DataRef<'_>) -> Cow<'a, str> {
    match value {
        DataRef::Empty => Cow::Borrowed(""),
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => Cow::Borrowed(s),
        DataRef::SharedString(s) => Cow::Borrowed(s),
        DataRef::Int(i) => Cow::Owned(i.to_string()),
        DataRef::Float(f) => Cow::Owned(number(*f)),
        DataRef::Bool(true) => Cow::Borrowed("TRUE"),
        DataRef::Bool(false) => Cow::Borrowed("FALSE"),
        DataRef::DateTime(dt) => Cow::Owned(date_time(dt)),
        DataRef::Error(e) => Cow::Owned(e.to_string()),
    }
}

/// A float rounded to 15 significant digits, printed without exponent noise.
pub(super) fn number(value: f64) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    // `{:.14e}` rounds to 15 significant digits; parsing it back and printing
    // with Display gives the shortest form (`42`, `0.3`, `12345678901234`).
    let rounded: f64 = format!("{value:.14e}").parse().unwrap_or(value);
    if rounded == 0.0 {
        return "0".to_owned(); // also for -0.0
    }
    rounded.to_string()
}

/// A date as `YYYY-MM-DD`, with `THH:MM:SS` when it has a time of day; a
/// duration as `[h]:mm:ss`.
fn date_time(dt: &ExcelDateTime) -> String {
    if dt.is_duration() {
        let seconds = (dt.as_f64() * 86_400.0).round();
        let sign = if seconds < 0.0 { "-" } else { "" };
        // Saturating float-to-int conversion; durations are far below its limit.
        let total = seconds.abs() as u64;
        return format!(
            "{sign}{}:{:02}:{:02}",
            total / 3600,
            total / 60 % 60,
            total % 60
        );
    }
    let (year, month, day, hour, minute, second, milli) = dt.to_ymd_hms_milli();
    let date = format!("{year:04}-{month:02}-{day:02}");
    match (hour, minute, second, milli) {
        (0, 0, 0, 0) => date,
        (_, _, _, 0) => format!("{date}T{hour:02}:{minute:02}:{second:02}"),
        _ => format!("{date}T{hour:02}:{minute:02}:{second:02}.{milli:03}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::{CellErrorType, ExcelDateTimeType};

    #[test]
    fn numbers_read_as_excel_shows_them() {
        assert_eq!(number(42.0), "42");
        assert_eq!(number(-7.0), "-7");
        assert_eq!(number(12_345_678_901_234.0), "12345678901234");
        assert_eq!(number(0.1 + 0.2), "0.3");
        assert_eq!(number(42.5), "42.5");
        assert_eq!(number(1.0 / 3.0), "0.333333333333333");
        assert_eq!(number(-0.0), "0");
        assert_eq!(number(1e20), "100000000000000000000");
    }

    #[test]
    fn other_values() {
        let date = ExcelDateTime::new(45352.0, ExcelDateTimeType::DateTime, false);
        assert_eq!(display(&DataRef::DateTime(date)), "2024-03-01");
        let noon = ExcelDateTime::new(45352.5, ExcelDateTimeType::DateTime, false);
        assert_eq!(display(&DataRef::DateTime(noon)), "2024-03-01T12:00:00");
        let span = ExcelDateTime::new(1.5, ExcelDateTimeType::TimeDelta, false);
        assert_eq!(display(&DataRef::DateTime(span)), "36:00:00");
        assert_eq!(display(&DataRef::Bool(true)), "TRUE");
        assert_eq!(display(&DataRef::Error(CellErrorType::NA)), "#N/A");
        assert_eq!(display(&DataRef::SharedString("x")), "x");
        assert_eq!(display(&DataRef::Empty), "");
    }
}
