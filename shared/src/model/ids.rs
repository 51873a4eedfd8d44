//! Ids. An import's id is a UUID kept as its canonical text, so both database
//! engines store it alike; the others are the database's integers.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An import's id (a UUID, kept as its canonical text so both database engines store it alike).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ImportId(pub String);

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

/// An organization's id.
pub type OrgId = i64;
/// A technician group's id.
pub type GroupId = i64;
/// An administrator's id.
pub type AdminId = i64;
