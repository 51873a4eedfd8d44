//! An organization's settings and the rules a setting must keep.

use crate::validate::PasswordRules;
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

impl Settings {
    /// The rules every saved settings document keeps; the error says which
    /// one a document breaks.
    pub fn check(&self) -> Result<(), &'static str> {
        self.password_policy.check()?;
        let seats = [self.licenses.standard_seats, self.licenses.mobile_seats];
        if self.max_rows_per_file < 1 || seats.iter().flatten().any(|s| *s < 0) {
            return Err("max_rows_per_file must be positive and seats not negative");
        }
        Ok(())
    }
}

impl PasswordPolicy {
    /// A policy's bounds: a length of 1 to 1,024 characters, a zxcvbn score of 0 to 4.
    pub fn check(&self) -> Result<(), &'static str> {
        if !(1..=1024).contains(&self.min_length) || !(0..=4).contains(&self.min_strength) {
            return Err("password_policy: min_length 1-1024, min_strength 0-4");
        }
        Ok(())
    }

    /// The policy as the validator applies it (a stored value out of its
    /// bounds is taken as the nearest bound).
    pub fn rules(&self) -> PasswordRules {
        PasswordRules {
            min_length: self.min_length.max(0) as usize,
            min_strength: self.min_strength.clamp(0, 4) as u8,
        }
    }
}

impl LicenseSeats {
    /// Neither kind of seat is limited (the default).
    pub fn unlimited(&self) -> bool {
        self.standard_seats.is_none() && self.mobile_seats.is_none()
    }
}
