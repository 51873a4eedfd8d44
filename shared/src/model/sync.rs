//! Directory synchronization's principal: a service token. It authorizes the
//! sync and SCIM routes of one organization and nothing else; a token that
//! names a technician group authorizes SCIM for that group.

use super::{AdminId, GroupId, OrgId};
use serde::Serialize;

/// A live (not revoked) service token, as its owner sees it: never the token
/// itself, which only the answer that created it carries.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceToken {
    pub id: i64,
    #[serde(skip)]
    pub org_id: OrgId,
    pub name: String,
    /// The technician group a SCIM client with this token provisions into.
    pub group_id: Option<GroupId>,
    /// The master who created it: a snapshot sent with the token is recorded
    /// as sent by this administrator, and runs with its scope. `None` once
    /// that administrator is gone (the token then sends nothing).
    #[serde(skip)]
    pub created_by: Option<AdminId>,
    pub created_at: String,
}

/// A technician provisioned over SCIM, with its link: the SCIM id, the
/// identity provider's `externalId`, and the link's times (epoch ms).
#[derive(Debug, Clone)]
pub struct ScimUser {
    pub id: String,
    /// The technician group of the token that provisioned it.
    pub group_id: GroupId,
    pub external_id: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub technician: super::Technician,
}

/// What a SCIM link keeps beside the technician: `externalId` and the parts
/// of `name` that Roster's Name does not hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScimAttributes {
    pub external_id: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
}

/// One equality a SCIM filter asks for; a list of them is their `and`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScimCondition {
    /// `userName eq` (or the work email): compared case-insensitively.
    UserName(String),
    /// `externalId eq`: compared exactly (RFC 7643: caseExact).
    ExternalId(String),
}
