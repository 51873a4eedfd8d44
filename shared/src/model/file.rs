//! What files hold: formats, layouts and their columns, records as read, and the
//! problems found in a field or in a whole file.

use serde::{Deserialize, Serialize};

/// The kind of file that was uploaded, told from its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Json,
    Xlsx,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Xlsx => "xlsx",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            "xlsx" => Some(Format::Xlsx),
            _ => None,
        }
    }
}

/// Which header a file carries (API.md, "Import files").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// Rescue's CSV/JSON import: the ten columns of [`FULL_COLUMNS`].
    Full,
    /// The full layout with `Password Hash` after Password ([`HASHED_COLUMNS`]):
    /// a row gives a password or a hash its old system made. JSON files are
    /// read in it (their `password_hash` key is optional).
    Hashed,
    /// Rescue Live's agent template: Name, Email, Password.
    Short,
}

/// The full layout's columns, in order.
pub const FULL_COLUMNS: [&str; 10] = [
    "Name",
    "Nickname",
    "Email",
    "Single Sign-On ID",
    "Description",
    "Password",
    "Enabled",
    "Standard License",
    "Mobile License",
    "Tech Group ID",
];

/// The snake_case keys JSON files may use instead of the column names, same order.
pub const FULL_KEYS: [&str; 10] = [
    "name",
    "nickname",
    "email",
    "sso_id",
    "description",
    "password",
    "enabled",
    "standard_license",
    "mobile_license",
    "tech_group_id",
];

/// The full layout with the optional `Password Hash` column, in order.
pub const HASHED_COLUMNS: [&str; 11] = [
    "Name",
    "Nickname",
    "Email",
    "Single Sign-On ID",
    "Description",
    "Password",
    "Password Hash",
    "Enabled",
    "Standard License",
    "Mobile License",
    "Tech Group ID",
];

/// The snake_case keys of [`HASHED_COLUMNS`], same order (JSON files may use either).
pub const HASHED_KEYS: [&str; 11] = [
    "name",
    "nickname",
    "email",
    "sso_id",
    "description",
    "password",
    "password_hash",
    "enabled",
    "standard_license",
    "mobile_license",
    "tech_group_id",
];

/// The short layout's columns, in order.
pub const SHORT_COLUMNS: [&str; 3] = ["Name", "Email", "Password"];

impl Layout {
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Layout::Full => &FULL_COLUMNS,
            Layout::Hashed => &HASHED_COLUMNS,
            Layout::Short => &SHORT_COLUMNS,
        }
    }

    /// Index of the Password column (its cells are blanked in results).
    pub fn password_index(self) -> usize {
        match self {
            Layout::Full | Layout::Hashed => 5,
            Layout::Short => 2,
        }
    }

    /// Index of the Password Hash column, when the layout has one (its cells
    /// are blanked in results too).
    pub fn hash_index(self) -> Option<usize> {
        match self {
            Layout::Hashed => Some(6),
            Layout::Full | Layout::Short => None,
        }
    }

    /// Index of the Email column.
    pub fn email_index(self) -> usize {
        match self {
            Layout::Full | Layout::Hashed => 2,
            Layout::Short => 1,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Full => "full",
            Layout::Hashed => "full_hash",
            Layout::Short => "short",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "full" => Some(Layout::Full),
            "full_hash" => Some(Layout::Hashed),
            "short" => Some(Layout::Short),
            _ => None,
        }
    }
}

/// One technician record as read from a file: its spreadsheet row number, its
/// cells in the layout's column order (trimmed; empty string for empty/null), and
/// problems the reader found that belong to this row (an unknown JSON key, a cell
/// over 32,767 characters).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub row: u32,
    pub cells: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl Record {
    /// Whether the row carries a password to hash (a row that gives a Password
    /// Hash, or nothing, costs no hash): what chunks and batches are sized by.
    pub fn hashes_password(&self, layout: Layout) -> bool {
        self.cells
            .get(layout.password_index())
            .is_some_and(|p| !p.is_empty())
    }
}

/// One problem with one field of a row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The column name as in [`FULL_COLUMNS`] (or the unknown key).
    pub field: String,
    /// A stable machine word: `required`, `too_long`, `invalid_email`, ...
    pub code: String,
    /// A sentence a person can act on.
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            code: code.to_owned(),
            message: message.into(),
        }
    }

    /// The row's email belongs to a technician of the organization already.
    pub fn email_taken(email: &str) -> Self {
        Self::new(
            "Email",
            "email_taken",
            format!("'{email}' already belongs to a technician"),
        )
    }
}

/// A file-level problem: the whole import fails with this code (API.md).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("{0}")]
    BadHeader(String),
    #[error("{0}")]
    GroupRequired(String),
    #[error("{0}")]
    TooManyRows(String),
    #[error("{0}")]
    EmptyFile(String),
    #[error("{0}")]
    Unreadable(String),
    #[error("{0}")]
    Unsafe(String),
}

impl FileError {
    /// The stable code of API.md ("The import resource").
    pub fn code(&self) -> &'static str {
        match self {
            FileError::BadHeader(_) => "bad_header",
            FileError::GroupRequired(_) => "group_required",
            FileError::TooManyRows(_) => "too_many_rows",
            FileError::EmptyFile(_) => "empty_file",
            FileError::Unreadable(_) => "unreadable_file",
            FileError::Unsafe(_) => "unsafe_file",
        }
    }
}
