//! An organization's settings and the rules a setting must keep.

use serde::{Deserialize, Serialize};

/// The organization's settings (API.md, "settings").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub password_policy: PasswordPolicy,
    pub force_password_change: bool,
    pub licenses: LicenseSeats,
    pub max_rows_per_file: i64,
    /// Whether a default password for technicians a directory provisions is
    /// set (`sync_default_password`, write-only: it is never shown). Read
    /// only: a value sent back is ignored.
    #[serde(default)]
    pub sync_default_password_set: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PasswordPolicy {
    pub min_length: i64,
    pub min_strength: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LicenseSeats {
    pub standard_seats: Option<i64>,
    pub mobile_seats: Option<i64>,
}

impl LicenseSeats {
    /// Neither kind of seat is limited (the default).
    pub fn unlimited(&self) -> bool {
        self.standard_seats.is_none() && self.mobile_seats.is_none()
    }
}
