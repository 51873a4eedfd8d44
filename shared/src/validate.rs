//! Row validation: turns a [`Record`] read from a file into a [`NewTechnician`].
//!
//! The rule kept here: parse, don't validate. A [`NewTechnician`] exists only
//! for a row that passed every rule needing no database (required fields,
//! lengths, email syntax, booleans, group id, password policy); anything else
//! comes back as the complete list of that row's problems, one per field, in
//! column order, after the problems the file reader already found. Messages
//! never quote the password, and quote other values only shortened.
//! Rules that need the database (taken emails, unknown groups, seats) belong to
//! the pipeline.

use email_address::{EmailAddress, Options};

use crate::model::{FieldError, GroupId, Layout, Record};
use crate::password::Password;

const NAME: &str = "Name";
const NICKNAME: &str = "Nickname";
const EMAIL: &str = "Email";
const SSO_ID: &str = "Single Sign-On ID";
const DESCRIPTION: &str = "Description";
const PASSWORD: &str = "Password";
const ENABLED: &str = "Enabled";
const STANDARD_LICENSE: &str = "Standard License";
const MOBILE_LICENSE: &str = "Mobile License";
const TECH_GROUP_ID: &str = "Tech Group ID";

/// Longest password (in characters) handed to zxcvbn: its cost grows quickly
/// with length, and a prefix this long already tells a weak password.
const STRENGTH_CHECK_MAX_CHARS: usize = 256;
/// Longest excerpt of a value quoted in a message.
const QUOTE_MAX_CHARS: usize = 64;

/// Rules that depend on the import and the organization's settings, not on the database.
#[derive(Debug, Clone)]
pub struct RowRules {
    /// Which columns the file carries.
    pub layout: Layout,
    /// The import's global group: every row goes there and the file's Tech Group ID is ignored.
    pub global_group: Option<GroupId>,
    /// Fewest characters a password may have.
    pub min_password_length: usize,
    /// Lowest zxcvbn score (0-4) a password may have; 0 disables the check.
    pub min_password_strength: u8,
}

/// A row that passed every rule that needs no database.
#[derive(Debug, Clone)]
pub struct NewTechnician {
    pub name: String,
    pub nickname: Option<String>,
    /// The email as given (trimmed).
    pub email: String,
    /// The email's uniqueness key: [`email_key`] of `email`.
    pub email_key: String,
    pub sso_id: Option<String>,
    pub description: Option<String>,
    pub password: Password,
    pub enabled: bool,
    pub standard_license: bool,
    pub mobile_license: bool,
    /// The row's group: the global group when there is one, else the row's Tech Group ID.
    pub group_id: GroupId,
}

impl NewTechnician {
    /// Parses one record under `rules`, or returns every problem of the row:
    /// first `record.errors`, then at most one per field in column order,
    /// for the fields the reader did not already report.
    pub fn parse(record: &Record, rules: &RowRules) -> Result<NewTechnician, Vec<FieldError>> {
        let row = Row { record, rules };
        let mut problems = record.errors.clone();

        let name = keep(
            &mut problems,
            text(NAME, row.cell(NAME), 128).and_then(|v| required(NAME, v)),
        );
        let nickname = keep(&mut problems, text(NICKNAME, row.cell(NICKNAME), 128));
        let email = keep(
            &mut problems,
            text(EMAIL, row.cell(EMAIL), 254).and_then(|v| required(EMAIL, v)),
        )
        .and_then(|email| keep(&mut problems, parse_email(email)));
        let sso_id = keep(&mut problems, text(SSO_ID, row.cell(SSO_ID), 128));
        let description = keep(
            &mut problems,
            text(DESCRIPTION, row.cell(DESCRIPTION), 1024),
        );
        let password = keep(&mut problems, row.password());
        let enabled = keep(&mut problems, row.flag(ENABLED, true));
        let standard_license = keep(&mut problems, row.flag(STANDARD_LICENSE, true));
        let mobile_license = keep(&mut problems, row.flag(MOBILE_LICENSE, false));
        let group_id = keep(&mut problems, row.group());

        let (
            Some(name),
            Some(nickname),
            Some(email),
            Some(sso_id),
            Some(description),
            Some(password),
            Some(enabled),
            Some(standard_license),
            Some(mobile_license),
            Some(group_id),
        ) = (
            name,
            nickname,
            email,
            sso_id,
            description,
            password,
            enabled,
            standard_license,
            mobile_license,
            group_id,
        )
        else {
            return Err(without_repeats(problems, record.errors.len()));
        };
        if !problems.is_empty() {
            return Err(without_repeats(problems, record.errors.len()));
        }
        Ok(NewTechnician {
            name: name.to_owned(),
            nickname: nickname.map(str::to_owned),
            email_key: email_key(email),
            email: email.to_owned(),
            sso_id: sso_id.map(str::to_owned),
            description: description.map(str::to_owned),
            password: Password::new(password.to_owned()),
            enabled,
            standard_license,
            mobile_license,
            group_id,
        })
    }
}

/// The key emails are compared by: trimmed and lowercased. Used for the
/// organization's uniqueness and for the same-email-twice-in-a-file check.
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Reads a yes/no cell: Yes/No, Y/N, True/False, 1/0, Enabled/Disabled, in any
/// case and with surrounding spaces; anything else is `None`.
pub fn parse_bool(text: &str) -> Option<bool> {
    const YES: [&str; 5] = ["yes", "y", "true", "1", "enabled"];
    const NO: [&str; 5] = ["no", "n", "false", "0", "disabled"];
    let text = text.trim();
    if YES.iter().any(|word| text.eq_ignore_ascii_case(word)) {
        Some(true)
    } else if NO.iter().any(|word| text.eq_ignore_ascii_case(word)) {
        Some(false)
    } else {
        None
    }
}

/// The organization's password policy, as the validator applies it.
#[derive(Debug, Clone, Copy)]
pub struct PasswordRules {
    /// Fewest characters a password may have.
    pub min_length: usize,
    /// Lowest zxcvbn score (0-4) a password may have; 0 disables the check.
    pub min_strength: u8,
}

/// Checks a password's length and strength under `rules`: the one rule that
/// import rows and the technician API share. `about` is the technician's name,
/// nickname and email: a password made of them is weak. The error is a
/// `weak_password` field error on Password that never quotes the password;
/// the caller has checked that it is present and at most 1,024 characters.
pub fn check_password(
    password: &str,
    rules: &PasswordRules,
    about: [&str; 3],
) -> Result<(), FieldError> {
    let length = password.chars().count();
    let min_length = rules.min_length;
    if length < min_length {
        return Err(weak(format!("must be at least {min_length} characters")));
    }
    let needs = rules.min_strength;
    if needs > 0 {
        let [name, nickname, email] = about;
        let local_part = email.split_once('@').map_or(email, |(local, _)| local);
        // zxcvbn matches whole inputs, so a name's words go in one by one too.
        let inputs: Vec<&str> = [name, nickname, email, local_part]
            .into_iter()
            .chain(name.split_whitespace())
            .filter(|input| !input.is_empty())
            .map(|input| prefix(input, STRENGTH_CHECK_MAX_CHARS))
            .collect();
        let checked = prefix(password, STRENGTH_CHECK_MAX_CHARS);
        let score = u8::from(zxcvbn::zxcvbn(checked, &inputs).score());
        if score < needs {
            return Err(weak(format!(
                "too weak (strength {score} of 4, needs {needs})"
            )));
        }
    }
    Ok(())
}

/// One record seen through its layout.
struct Row<'a> {
    record: &'a Record,
    rules: &'a RowRules,
}

impl<'a> Row<'a> {
    /// The cell of `column`, or `None` when the layout has no such column. A
    /// record shorter than its layout reads as empty cells.
    fn cell(&self, column: &str) -> Option<&'a str> {
        let index = self
            .rules
            .layout
            .columns()
            .iter()
            .position(|c| *c == column)?;
        Some(self.record.cells.get(index).map_or("", String::as_str))
    }

    fn password(&self) -> Result<&'a str, FieldError> {
        let password =
            text(PASSWORD, self.cell(PASSWORD), 1024).and_then(|v| required(PASSWORD, v))?;
        check_password(
            password,
            &PasswordRules {
                min_length: self.rules.min_password_length,
                min_strength: self.rules.min_password_strength,
            },
            [
                self.cell(NAME).unwrap_or(""),
                self.cell(NICKNAME).unwrap_or(""),
                self.cell(EMAIL).unwrap_or(""),
            ],
        )?;
        Ok(password)
    }

    /// A yes/no column; the short layout has none and takes `default`.
    fn flag(&self, column: &str, default: bool) -> Result<bool, FieldError> {
        let Some(value) = self.cell(column) else {
            return Ok(default);
        };
        let value = required(column, Some(value).filter(|v| !v.is_empty()))?;
        parse_bool(value).ok_or_else(|| {
            FieldError::new(
                column,
                "invalid_boolean",
                format!("{} is not yes or no", quote(value)),
            )
        })
    }

    /// The row's group: the global one (the file's cell is then ignored), else
    /// the Tech Group ID cell.
    fn group(&self) -> Result<GroupId, FieldError> {
        if let Some(group) = self.rules.global_group {
            return Ok(group);
        }
        let value = required(
            TECH_GROUP_ID,
            self.cell(TECH_GROUP_ID).filter(|v| !v.is_empty()),
        )?;
        value
            .parse::<GroupId>()
            .ok()
            .filter(|id| *id > 0)
            .ok_or_else(|| {
                FieldError::new(
                    TECH_GROUP_ID,
                    "invalid_group",
                    format!(
                        "{} is not a group id (a positive whole number)",
                        quote(value)
                    ),
                )
            })
    }
}

/// `problems` without the rules' problems on a field the reader already
/// reported (the first `from_reader` entries). Fix: a cell cut at 32,767
/// characters was reported twice, the second time misleadingly ("must be at
/// most 1024 characters (has 32767)" for a 40,000-character cell), and a JSON
/// value that was not text came back as "invalid_value" and "required" both.
fn without_repeats(problems: Vec<FieldError>, from_reader: usize) -> Vec<FieldError> {
    let reported: Vec<String> = problems
        .iter()
        .take(from_reader)
        .map(|e| e.field.clone())
        .collect();
    problems
        .into_iter()
        .enumerate()
        .filter(|(i, e)| *i < from_reader || !reported.contains(&e.field))
        .map(|(_, e)| e)
        .collect()
}

/// Records a field's outcome: its value, or its problem in `problems`.
fn keep<T>(problems: &mut Vec<FieldError>, result: Result<T, FieldError>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(problem) => {
            problems.push(problem);
            None
        }
    }
}

/// An optional text cell: `None` when empty (or absent from the layout),
/// `too_long` past `max` characters.
fn text<'a>(
    column: &str,
    value: Option<&'a str>,
    max: usize,
) -> Result<Option<&'a str>, FieldError> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.contains('\0') {
        // No text column can hold one, and no person meant one.
        return Err(FieldError::new(
            column,
            "invalid_character",
            "must not contain a NUL character",
        ));
    }
    let length = value.chars().count();
    if length > max {
        return Err(FieldError::new(
            column,
            "too_long",
            format!("must be at most {max} characters (has {length})"),
        ));
    }
    Ok(Some(value))
}

fn required<'a>(column: &str, value: Option<&'a str>) -> Result<&'a str, FieldError> {
    value.ok_or_else(|| FieldError::new(column, "required", "is required"))
}

fn parse_email(email: &str) -> Result<&str, FieldError> {
    let options = Options::default()
        .with_required_tld()
        .without_display_text()
        .without_domain_literal();
    match EmailAddress::parse_with_options(email, options) {
        Ok(parsed) if parsed.domain().contains('.') => Ok(email),
        _ => Err(FieldError::new(
            EMAIL,
            "invalid_email",
            format!("{} is not a valid email address", quote(email)),
        )),
    }
}

fn weak(message: String) -> FieldError {
    FieldError::new(PASSWORD, "weak_password", message)
}

/// `value` in single quotes, shortened to [`QUOTE_MAX_CHARS`] characters.
fn quote(value: &str) -> String {
    let shown = prefix(value, QUOTE_MAX_CHARS);
    if shown.len() < value.len() {
        format!("'{shown}...'")
    } else {
        format!("'{shown}'")
    }
}

/// The first `max` characters of `value`.
fn prefix(value: &str, max: usize) -> &str {
    value
        .char_indices()
        .nth(max)
        .map_or(value, |(end, _)| &value[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FULL_COLUMNS;

    const STRONG: &str = "Correct-Horse-Battery-9";

    fn rules(layout: Layout, global_group: Option<GroupId>) -> RowRules {
        RowRules {
            layout,
            global_group,
            min_password_length: 8,
            min_password_strength: 2,
        }
    }

    fn record(cells: &[&str]) -> Record {
        Record {
            row: 2,
            cells: cells.iter().map(|c| (*c).to_owned()).collect(),
            errors: Vec::new(),
        }
    }

    fn full(cells: [&str; 10]) -> Record {
        record(&cells)
    }

    fn valid_full() -> [&'static str; 10] {
        [
            "Ana Example",
            "Ana",
            "Ana@Example.com",
            "ana.sso",
            "Tier 1",
            STRONG,
            "Yes",
            "y",
            "FALSE",
            "12",
        ]
    }

    fn codes(errors: &[FieldError]) -> Vec<(&str, &str)> {
        errors
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect()
    }

    #[test]
    fn a_valid_full_row_parses_into_a_technician() {
        let tech = NewTechnician::parse(&full(valid_full()), &rules(Layout::Full, None))
            .expect("valid row");
        assert_eq!(tech.name, "Ana Example");
        assert_eq!(tech.nickname.as_deref(), Some("Ana"));
        assert_eq!(tech.email, "Ana@Example.com");
        assert_eq!(tech.email_key, "ana@example.com");
        assert_eq!(tech.sso_id.as_deref(), Some("ana.sso"));
        assert_eq!(tech.description.as_deref(), Some("Tier 1"));
        assert_eq!(tech.password.expose(), STRONG);
        assert!(tech.enabled && tech.standard_license && !tech.mobile_license);
        assert_eq!(tech.group_id, 12);
    }

    #[test]
    fn empty_optional_cells_are_none() {
        let mut cells = valid_full();
        cells[1] = "";
        cells[3] = "";
        cells[4] = "";
        let tech = NewTechnician::parse(&full(cells), &rules(Layout::Full, None)).expect("valid");
        assert_eq!(
            (tech.nickname, tech.sso_id, tech.description),
            (None, None, None)
        );
    }

    #[test]
    fn the_short_layout_takes_the_global_group_and_license_defaults() {
        let tech = NewTechnician::parse(
            &record(&["Bo Tester", "bo@example.org", STRONG]),
            &rules(Layout::Short, Some(7)),
        )
        .expect("valid short row");
        assert_eq!(tech.group_id, 7);
        assert!(tech.enabled && tech.standard_license && !tech.mobile_license);
        assert_eq!(tech.nickname, None);
    }

    #[test]
    fn every_problem_of_a_row_is_reported_after_the_readers() {
        let mut rec = full(["", "", "", "", "", "", "maybe", "", "2", "abc"]);
        rec.errors.push(FieldError::new(
            "color",
            "unknown_column",
            "unknown key 'color'",
        ));
        let errors = NewTechnician::parse(&rec, &rules(Layout::Full, None)).expect_err("invalid");
        assert_eq!(
            codes(&errors),
            [
                ("color", "unknown_column"),
                ("Name", "required"),
                ("Email", "required"),
                ("Password", "required"),
                ("Enabled", "invalid_boolean"),
                ("Standard License", "required"),
                ("Mobile License", "invalid_boolean"),
                ("Tech Group ID", "invalid_group"),
            ]
        );
        assert_eq!(errors[4].message, "'maybe' is not yes or no");
        assert_eq!(errors[2].message, "is required");
        for field in errors.iter().skip(1) {
            assert!(FULL_COLUMNS.contains(&field.field.as_str()));
        }
    }

    #[test]
    fn reader_errors_alone_fail_a_row() {
        let mut rec = full(valid_full());
        rec.errors.push(FieldError::new(
            "Description",
            "too_long",
            "over 32,767 characters",
        ));
        let errors = NewTechnician::parse(&rec, &rules(Layout::Full, None)).expect_err("fails");
        assert_eq!(codes(&errors), [("Description", "too_long")]);
    }

    #[test]
    fn a_field_the_reader_reported_is_not_reported_again() {
        let mut cells = valid_full();
        let cut = "d".repeat(32_767); // what the reader kept of a longer cell
        cells[4] = &cut;
        cells[0] = "";
        let mut rec = full(cells);
        rec.errors.push(FieldError::new(
            "Description",
            "too_long",
            "is over 32,767 characters",
        ));
        rec.errors
            .push(FieldError::new("Email", "invalid_value", "not text"));
        rec.cells[2] = String::new(); // the reader leaves a non-text value empty
        let errors = NewTechnician::parse(&rec, &rules(Layout::Full, None)).expect_err("fails");
        assert_eq!(
            codes(&errors),
            [
                ("Description", "too_long"),
                ("Email", "invalid_value"),
                ("Name", "required")
            ]
        );
        assert_eq!(errors[0].message, "is over 32,767 characters");
    }

    #[test]
    fn lengths_are_counted_in_characters() {
        let mut cells = valid_full();
        let name_128 = "é".repeat(128);
        let nick_129 = "n".repeat(129);
        let description = "d".repeat(1025);
        let email = format!("{}@example.com", "a".repeat(243));
        cells[0] = &name_128;
        cells[1] = &nick_129;
        cells[2] = &email;
        cells[4] = &description;
        let errors =
            NewTechnician::parse(&full(cells), &rules(Layout::Full, None)).expect_err("too long");
        assert_eq!(
            codes(&errors),
            [
                ("Nickname", "too_long"),
                ("Email", "too_long"),
                ("Description", "too_long")
            ]
        );
        assert_eq!(
            errors[0].message,
            "must be at most 128 characters (has 129)"
        );
    }

    #[test]
    fn malformed_emails_are_refused() {
        for bad in [
            "foo@",
            "foo",
            "foo@localhost",
            "Ana <ana@example.com>",
            "ana@[127.0.0.1]",
            "ana@@example.com",
            "ana@example..com",
            "an a@example.com",
        ] {
            let mut cells = valid_full();
            cells[2] = bad;
            let errors =
                NewTechnician::parse(&full(cells), &rules(Layout::Full, None)).expect_err(bad);
            assert_eq!(codes(&errors), [("Email", "invalid_email")], "{bad}");
            assert_eq!(
                errors[0].message,
                format!("'{bad}' is not a valid email address")
            );
        }
    }

    #[test]
    fn passwords_must_meet_the_policy_and_never_appear_in_messages() {
        let cases = [
            ("abc", "must be at least 8 characters"),
            ("password", "too weak (strength 0 of 4, needs 2)"),
            // The row's own email: weak because zxcvbn is given it.
            ("Ana@Example.com", "too weak"),
        ];
        for (password, message) in cases {
            let mut cells = valid_full();
            cells[5] = password;
            let errors =
                NewTechnician::parse(&full(cells), &rules(Layout::Full, None)).expect_err(password);
            assert_eq!(
                codes(&errors),
                [("Password", "weak_password")],
                "{password}"
            );
            assert!(
                errors[0].message.starts_with(message),
                "{}",
                errors[0].message
            );
            assert!(!errors[0].message.contains(password));
        }
        let long = "x".repeat(1025);
        let mut cells = valid_full();
        cells[5] = &long;
        let errors =
            NewTechnician::parse(&full(cells), &rules(Layout::Full, None)).expect_err("too long");
        assert_eq!(codes(&errors), [("Password", "too_long")]);
    }

    #[test]
    fn strength_zero_accepts_any_long_enough_password() {
        let mut rules = rules(Layout::Full, None);
        rules.min_password_strength = 0;
        let mut cells = valid_full();
        cells[5] = "password";
        assert!(NewTechnician::parse(&full(cells), &rules).is_ok());
    }

    #[test]
    fn the_longest_allowed_password_is_accepted() {
        // Only its first 256 characters go to zxcvbn.
        const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789-_#";
        let mut seed = 12_345_u32;
        let long: String = (0..1024)
            .map(|_| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                let index = (seed >> 16) as usize % ALPHABET.len();
                char::from(ALPHABET[index])
            })
            .collect();
        let mut cells = valid_full();
        cells[5] = &long;
        let tech = NewTechnician::parse(&full(cells), &rules(Layout::Full, None)).expect("valid");
        assert_eq!(tech.password.expose().chars().count(), 1024);
    }

    #[test]
    fn a_global_group_ignores_the_files_group_cell() {
        let mut cells = valid_full();
        cells[9] = "not a number";
        let tech = NewTechnician::parse(&full(cells), &rules(Layout::Full, Some(3))).expect("ok");
        assert_eq!(tech.group_id, 3);
    }

    #[test]
    fn group_ids_must_be_positive_whole_numbers() {
        for (cell, code) in [
            ("", "required"),
            ("0", "invalid_group"),
            ("-4", "invalid_group"),
            ("1.5", "invalid_group"),
        ] {
            let mut cells = valid_full();
            cells[9] = cell;
            let errors =
                NewTechnician::parse(&full(cells), &rules(Layout::Full, None)).expect_err(cell);
            assert_eq!(codes(&errors), [("Tech Group ID", code)], "{cell:?}");
        }
    }

    #[test]
    fn booleans_accept_the_documented_words_in_any_case() {
        for yes in ["Yes", "y", "TRUE", "1", "Enabled", " yes "] {
            assert_eq!(parse_bool(yes), Some(true), "{yes}");
        }
        for no in ["No", "N", "false", "0", "DISABLED"] {
            assert_eq!(parse_bool(no), Some(false), "{no}");
        }
        for other in ["", "maybe", "2", "on", "yess"] {
            assert_eq!(parse_bool(other), None, "{other}");
        }
    }

    #[test]
    fn long_values_are_quoted_shortened() {
        let mut cells = valid_full();
        let long = "m".repeat(500);
        cells[6] = &long;
        let errors =
            NewTechnician::parse(&full(cells), &rules(Layout::Full, None)).expect_err("invalid");
        assert_eq!(
            errors[0].message,
            format!("'{}...' is not yes or no", "m".repeat(64))
        );
    }

    #[test]
    fn email_keys_ignore_case_and_spaces() {
        assert_eq!(email_key("  Ana@Example.COM "), "ana@example.com");
    }
}
