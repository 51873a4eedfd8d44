//! Chunks and their batches. The rule this module keeps: a row's outcome and its
//! effect (the technician created or updated) are written in one transaction
//! that also proves the writer still holds the chunk's lease, so a row takes
//! effect exactly once.
//!
//! - `lease`: claiming, renewing, giving back and finishing a chunk.
//! - `write`: what every batch writer shares (the technicians' insert, the
//!   outcomes and the counters they move), for either driver.
//! - `general`: the batch on both engines through `Any`: lookups, updates,
//!   seats, then the shared writes.
//! - `copy`: PostgreSQL's `COPY` path for batches of creations alone.
//! - `seats`: the organization's license seats, read and locked, and the pure
//!   fitting of a batch's writes into them.

mod copy;
mod general;
mod lease;
mod seats;
mod write;

pub(super) use lease::statements as lease_statements;
pub(super) use seats::{SeatNeed, SeatsLeft, locked_seats, seats_left, seats_used};
pub(super) use write::commit_batch;

use crate::model::{GroupId, ImportId, TechnicianId};

/// A technician row ready to be written (password already hashed).
#[derive(Debug, Clone)]
pub struct TechnicianWrite {
    pub row: i64,
    pub name: String,
    pub nickname: Option<String>,
    pub email: String,
    pub email_key: String,
    pub sso_id: Option<String>,
    pub description: Option<String>,
    pub password_hash: String,
    pub enabled: bool,
    pub standard_license: bool,
    pub mobile_license: bool,
    pub group_id: GroupId,
    pub must_change_password: bool,
}

impl TechnicianWrite {
    /// A validated row as a write, and its credential apart: the write gets its
    /// `password_hash` once the password is hashed (never before, never both),
    /// or the row's imported hash as given.
    pub fn from_valid(
        row: i64,
        t: crate::validate::NewTechnician,
        must_change_password: bool,
    ) -> (crate::password::Credential, Self) {
        let write = Self {
            row,
            name: t.name,
            nickname: t.nickname,
            email: t.email,
            email_key: t.email_key,
            sso_id: t.sso_id,
            description: t.description,
            password_hash: String::new(),
            enabled: t.enabled,
            standard_license: t.standard_license,
            mobile_license: t.mobile_license,
            group_id: t.group_id,
            must_change_password,
        };
        (t.credential, write)
    }
}

/// A technician the organization has under an email a row carries: which one,
/// and the group it was in when looked up (scope is judged on that group).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Existing {
    pub id: TechnicianId,
    pub group_id: GroupId,
}

impl Existing {
    fn keyed((email_key, id, group_id): (String, TechnicianId, GroupId)) -> (String, Existing) {
        (email_key, Existing { id, group_id })
    }
}

/// The lease a worker holds on a chunk.
#[derive(Debug, Clone)]
pub struct Lease {
    pub import_id: ImportId,
    pub chunk_no: i64,
    pub owner: String,
}
