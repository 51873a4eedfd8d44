//! The directory: administrators and their roles and scopes, technician groups
//! and technicians, and what changing them comes to.

use super::{AdminId, GroupId, OrgId, TechnicianId};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// An administrator's role, as in Rescue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// May act on every group of the organization.
    Master,
    /// May act on its assigned groups and their sub-groups.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Master => "master",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "master" => Some(Role::Master),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// An authenticated administrator.
#[derive(Debug, Clone, Serialize)]
pub struct Admin {
    pub id: AdminId,
    #[serde(skip)]
    pub org_id: OrgId,
    pub email: String,
    pub role: Role,
    pub group_ids: Vec<GroupId>,
}

/// A technician group.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Group {
    pub id: GroupId,
    pub name: String,
    pub parent_id: Option<GroupId>,
}

impl Admin {
    /// The imports this administrator may read: `Some(its own id)` for an
    /// admin, who sees only its own; `None` (every import) for a master.
    pub fn own_imports(&self) -> Option<AdminId> {
        match self.role {
            Role::Master => None,
            Role::Admin => Some(self.id),
        }
    }
}

/// The groups an administrator may act on.
#[derive(Debug, Clone)]
pub enum Scope {
    All,
    Groups(HashSet<GroupId>),
}

impl Scope {
    pub fn allows(&self, group: GroupId) -> bool {
        match self {
            Scope::All => true,
            Scope::Groups(set) => set.contains(&group),
        }
    }
}

/// A technician as the API shows it (the password hash never leaves the database).
#[derive(Debug, Clone, Serialize)]
pub struct Technician {
    pub id: TechnicianId,
    pub name: String,
    pub nickname: Option<String>,
    pub email: String,
    pub sso_id: Option<String>,
    pub description: Option<String>,
    pub enabled: bool,
    pub standard_license: bool,
    pub mobile_license: bool,
    pub group_id: GroupId,
    pub must_change_password: bool,
    pub import_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// A license kind, for seat accounting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum License {
    Standard,
    Mobile,
}

impl License {
    pub fn as_str(self) -> &'static str {
        match self {
            License::Standard => "standard",
            License::Mobile => "mobile",
        }
    }
}

/// Changes to one technician: `None` leaves a field as it is; for the optional
/// texts, `Some(None)` clears it. No `Debug`: it may carry a password hash.
#[derive(Default)]
pub struct TechnicianChanges {
    pub name: Option<String>,
    /// A new email (valid, trimmed); its uniqueness key is derived from it.
    /// Directory sync and SCIM change it; `PATCH /v1/technicians` does not.
    pub email: Option<String>,
    pub nickname: Option<Option<String>>,
    pub sso_id: Option<Option<String>>,
    pub description: Option<Option<String>>,
    pub enabled: Option<bool>,
    pub standard_license: Option<bool>,
    pub mobile_license: Option<bool>,
    /// The new group; the caller has checked that it exists in the organization.
    pub group_id: Option<GroupId>,
    /// A new password's PHC hash (never the password).
    pub password_hash: Option<String>,
    pub must_change_password: Option<bool>,
}

/// What an update of one technician came to.
#[derive(Debug)]
pub enum TechnicianUpdate {
    Updated(Box<Technician>),
    /// No such technician in the organization.
    Missing,
    /// The new email is another technician's in the organization.
    EmailTaken,
    /// The change takes a seat of `license` and all `seats` are in use.
    NoSeat {
        license: License,
        seats: i64,
    },
}

/// What renaming or moving a group came to.
#[derive(Debug)]
pub enum GroupUpdate {
    Updated(Group),
    /// No such group (or new parent) in the organization.
    Missing,
    /// The new parent is the group itself or one of its sub-groups.
    Cycle,
}

/// What creating one technician came to.
#[derive(Debug)]
pub enum TechnicianCreate {
    Created(Box<Technician>),
    /// The organization has a technician with that email.
    EmailTaken,
    /// The technician needs a seat of `license` and all `seats` are in use.
    NoSeat {
        license: License,
        seats: i64,
    },
}

/// A signed-in administrator (a browser session) and the session's CSRF token.
/// No `Debug`: the token is a secret of the session.
pub struct SignedIn {
    pub admin: Admin,
    pub csrf_token: String,
}
