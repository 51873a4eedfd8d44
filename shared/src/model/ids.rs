//! Ids. An import's id is a UUID kept as its canonical text, so both database
//! engines store it alike; the others are the database's integers.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An import's id (a UUID, kept as its canonical text so both database engines store it alike).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[serde(transparent)]
#[sqlx(transparent)]
pub struct ImportId(String);

impl ImportId {
    /// A new, time-ordered id.
    pub fn new() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }

    /// Parses a client-supplied id; anything but a UUID is `None` (and so answers 404).
    pub fn parse(text: &str) -> Option<Self> {
        uuid::Uuid::parse_str(text)
            .ok()
            .map(|u| Self(u.to_string()))
    }

    /// An id as the database stores it (read back from a row, not from a client).
    pub fn from_stored(text: String) -> Self {
        Self(text)
    }

    /// The canonical text, for a query or a storage key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for ImportId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for ImportId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The database's integer ids, each its own type so that swapped arguments
/// (a group id where an administrator's is wanted) do not compile. They are
/// integers in JSON and in both engines' columns.
macro_rules! integer_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type,
        )]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(i64);

        impl $name {
            /// The id the database gave (or a client sent, checked by the query that uses it).
            pub const fn new(raw: i64) -> Self {
                Self(raw)
            }

            /// The integer, for a URL, a log line or an arithmetic-free comparison.
            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

integer_id!(
    /// An organization's id.
    OrgId
);
integer_id!(
    /// A technician group's id.
    GroupId
);
integer_id!(
    /// An administrator's id.
    AdminId
);
integer_id!(
    /// A technician's id.
    TechnicianId
);
