//! What a directory entry becomes in a snapshot: `external_id` (Active
//! Directory's binary `objectGUID` in its mixed byte order as a GUID string,
//! `entryUUID` elsewhere), `name` (`displayName`, else `cn`), `email` (`mail`),
//! `enabled` (Active Directory: bit 2 of `userAccountControl` clear). Pure
//! functions over search results, so the Active Directory rules are tested
//! without an Active Directory.

use serde::Serialize;
use std::collections::HashMap;

/// `userAccountControl`'s ACCOUNTDISABLE bit.
const ACCOUNT_DISABLE: u32 = 0x2;

/// One member of the snapshot, as API.md names its fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    pub external_id: String,
    pub name: String,
    pub email: Option<String>,
    pub enabled: bool,
}

/// The directory kind decides the external id and the enabled rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    ActiveDirectory,
    Ldap,
}

impl Kind {
    /// The source key's prefix (`ad:` or `ldap:`).
    pub fn prefix(self) -> &'static str {
        match self {
            Kind::ActiveDirectory => "ad",
            Kind::Ldap => "ldap",
        }
    }

    /// The attributes a member search asks for.
    pub fn attributes(self) -> Vec<&'static str> {
        match self {
            Kind::ActiveDirectory => vec![
                "objectGUID",
                "displayName",
                "cn",
                "mail",
                "userAccountControl",
            ],
            Kind::Ldap => vec!["entryUUID", "displayName", "cn", "mail"],
        }
    }
}

/// A search result entry, as ldap3 splits it: values that are UTF-8 in `attrs`,
/// the others in `bin_attrs` (a binary GUID can happen to be valid UTF-8).
#[derive(Debug, Clone, Default)]
pub struct Entry {
    pub dn: String,
    pub attrs: HashMap<String, Vec<String>>,
    pub bin_attrs: HashMap<String, Vec<Vec<u8>>>,
}

/// Why an entry cannot be a member: reported, and the snapshot is not sent.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EntryError {
    #[error("{dn}: no {attribute}")]
    Missing { dn: String, attribute: &'static str },
    #[error("{dn}: {attribute} is not a GUID ({detail})")]
    BadGuid {
        dn: String,
        attribute: &'static str,
        detail: String,
    },
    #[error("{dn}: userAccountControl {value:?} is not a number")]
    BadAccountControl { dn: String, value: String },
}

impl Entry {
    /// The first value of an attribute, its name matched without case.
    fn text(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.first())
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    /// The first value's bytes, wherever ldap3 put it.
    fn bytes(&self, name: &str) -> Option<Vec<u8>> {
        self.bin_attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.first().cloned())
            .or_else(|| {
                self.attrs
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .and_then(|(_, v)| v.first())
                    .map(|s| s.as_bytes().to_vec())
            })
    }

    /// The entry as a member. `disabled` is the `--disabled-filter` verdict
    /// (outside Active Directory).
    pub fn member(&self, kind: Kind, disabled: bool) -> Result<Member, EntryError> {
        let name = self
            .text("displayName")
            .or_else(|| self.text("cn"))
            .ok_or_else(|| self.missing("cn"))?
            .trim()
            .to_owned();
        let email = self.text("mail").map(|m| m.trim().to_owned());
        let (external_id, enabled) = match kind {
            Kind::ActiveDirectory => (self.object_guid()?, self.ad_enabled()?),
            Kind::Ldap => {
                let raw = self
                    .text("entryUUID")
                    .ok_or_else(|| self.missing("entryUUID"))?;
                let id = uuid::Uuid::parse_str(raw.trim()).map_err(|e| EntryError::BadGuid {
                    dn: self.dn.clone(),
                    attribute: "entryUUID",
                    detail: e.to_string(),
                })?;
                (id.hyphenated().to_string(), !disabled)
            }
        };
        Ok(Member {
            external_id,
            name,
            email,
            enabled,
        })
    }

    fn missing(&self, attribute: &'static str) -> EntryError {
        EntryError::Missing {
            dn: self.dn.clone(),
            attribute,
        }
    }

    /// `objectGUID`: 16 bytes whose first three fields are little-endian, shown
    /// as Active Directory shows it ({3,2,1,0}-{5,4}-{7,6}-{8,9}-{10..16}).
    fn object_guid(&self) -> Result<String, EntryError> {
        let bytes = self
            .bytes("objectGUID")
            .ok_or_else(|| self.missing("objectGUID"))?;
        let array: [u8; 16] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| EntryError::BadGuid {
                dn: self.dn.clone(),
                attribute: "objectGUID",
                detail: format!("{} bytes, expected 16", bytes.len()),
            })?;
        Ok(uuid::Uuid::from_bytes_le(array).hyphenated().to_string())
    }

    /// Enabled unless ACCOUNTDISABLE is set. Active Directory sends the flags as
    /// a signed 32-bit decimal; an entry without them is read as enabled.
    fn ad_enabled(&self) -> Result<bool, EntryError> {
        let Some(raw) = self.text("userAccountControl") else {
            return Ok(true);
        };
        let raw = raw.trim();
        let flags = raw
            .parse::<u32>()
            .or_else(|_| raw.parse::<i32>().map(|v| v as u32))
            .map_err(|_| EntryError::BadAccountControl {
                dn: self.dn.clone(),
                value: raw.to_owned(),
            })?;
        Ok(flags & ACCOUNT_DISABLE == 0)
    }
}

/// A DN compared the way directories compare member values: without case and
/// without spaces around separators.
pub fn normalize_dn(dn: &str) -> String {
    dn.split(',')
        .map(|rdn| {
            rdn.split('=')
                .map(|part| part.trim().to_lowercase())
                .collect::<Vec<_>>()
                .join("=")
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The DC= components of a DN: the default search base.
pub fn domain_of(dn: &str) -> String {
    dn.split(',')
        .map(str::trim)
        .filter(|rdn| rdn.len() > 3 && rdn[..3].eq_ignore_ascii_case("dc="))
        .collect::<Vec<_>>()
        .join(",")
}

/// Escapes a value for an LDAP filter (RFC 4515).
pub fn escape_filter_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '*' => out.push_str("\\2a"),
            '(' => out.push_str("\\28"),
            ')' => out.push_str("\\29"),
            '\\' => out.push_str("\\5c"),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
#[path = "entry_tests.rs"]
mod tests;
