//! Row validation: turns a [`Record`] read from a file into a [`NewTechnician`].
//!
//! The rule kept here: parse, don't validate. A [`NewTechnician`] exists only
//! for a row that passed every rule needing no database (required fields,
//! lengths, email syntax, booleans, group id, password policy); anything else
//! comes back as the complete list of that row's problems, one per field, in
//! column order, after the problems the file reader already found. Messages
//! never quote the password, and quote other values only shortened.
//! Rules that need the database (taken emails, unknown groups, seats) belong to
//! the pipeline. A row gives a password (held to the policy) or, in the full
//! layout's Password Hash column, a hash another system made (checked for form
//! and bounded parameters, `password.rs`), never both.
//!
//! - `strength.rs`: the zxcvbn estimate, judged once per distinct password

mod strength;

use email_address::{EmailAddress, Options};
use std::sync::Arc;

use crate::model::{FieldError, GroupId, Layout, Record};
use crate::password::{Credential, ImportedHash, Password};
pub use strength::StrengthMemo;
use strength::prefix;

const NAME: &str = "Name";
const NICKNAME: &str = "Nickname";
const EMAIL: &str = "Email";
const SSO_ID: &str = "Single Sign-On ID";
const DESCRIPTION: &str = "Description";
const PASSWORD: &str = "Password";
const PASSWORD_HASH: &str = "Password Hash";
const ENABLED: &str = "Enabled";
const STANDARD_LICENSE: &str = "Standard License";
const MOBILE_LICENSE: &str = "Mobile License";
const TECH_GROUP_ID: &str = "Tech Group ID";

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
    /// The import's scores of passwords already judged, shared by its rows.
    pub strength_memo: Option<Arc<StrengthMemo>>,
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
    /// The row's password, or the hash it gave instead.
    pub credential: Credential,
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
            text(EMAIL, row.cell(EMAIL), EMAIL_MAX_CHARS).and_then(|v| required(EMAIL, v)),
        )
        .and_then(|email| keep(&mut problems, parse_email(email)));
        let sso_id = keep(&mut problems, text(SSO_ID, row.cell(SSO_ID), 128));
        let description = keep(
            &mut problems,
            text(DESCRIPTION, row.cell(DESCRIPTION), 1024),
        );
        let credential = keep(&mut problems, row.credential());
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
            Some(credential),
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
            credential,
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
            credential,
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
    check_password_with(password, rules, about, None)
}

/// [`check_password`] through `memo`: a password it has judged is not
/// estimated again (unless it may hold the name or email, `strength.rs`).
pub fn check_password_with(
    password: &str,
    rules: &PasswordRules,
    about: [&str; 3],
    memo: Option<&StrengthMemo>,
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
            .collect();
        let score = strength::score(password, &inputs, memo);
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

    /// The row's password (held to the policy), or its Password Hash (checked
    /// for form and bounds; the policy has no plaintext to judge): one, not both.
    fn credential(&self) -> Result<Credential, FieldError> {
        let password = text(PASSWORD, self.cell(PASSWORD), 1024)?;
        let hash = text(
            PASSWORD_HASH,
            self.cell(PASSWORD_HASH),
            crate::password::MAX_HASH_CHARS,
        )?;
        match (password, hash) {
            (Some(_), Some(_)) => Err(FieldError::new(
                PASSWORD,
                "password_conflict",
                "give a password or a password hash, not both",
            )),
            (None, Some(hash)) => ImportedHash::parse(hash)
                .map(Credential::Hashed)
                .map_err(|reason| FieldError::new(PASSWORD_HASH, "invalid_hash", reason)),
            (password, None) => {
                let password = required(PASSWORD, password)?;
                self.check_policy(password)?;
                Ok(Credential::Plain(Password::new(password.to_owned())))
            }
        }
    }

    fn check_policy(&self, password: &str) -> Result<(), FieldError> {
        check_password_with(
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
            self.rules.strength_memo.as_deref(),
        )
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
            .parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .map(GroupId::new)
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

/// The longest email address (RFC 5321's path limit, less its brackets).
pub const EMAIL_MAX_CHARS: usize = 254;

/// An email address as Roster takes one, a technician's or an
/// administrator's: trimmed, at most [`EMAIL_MAX_CHARS`] characters, an
/// address with a domain that has a dot (no display name, no IP literal).
pub fn check_email(email: &str) -> Result<&str, FieldError> {
    let email =
        text(EMAIL, Some(email.trim()), EMAIL_MAX_CHARS).and_then(|v| required(EMAIL, v))?;
    parse_email(email)
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

#[cfg(test)]
mod tests;
