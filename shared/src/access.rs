//! Which groups a caller may act on. One check, [`group_in_scope`], answers
//! for every request that names a group: the group exists in the caller's
//! organization, and the caller's scope holds it. Each route words the two
//! refusals for what it was doing (placing technicians, reading a group,
//! choosing a parent), but none checks either on its own.

use crate::db::{Db, DbError};
use crate::model::{Group, GroupId, OrgId, Scope};

/// Why a named group may not be used.
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    /// No group of this id in the organization.
    #[error("group {0} does not exist")]
    Missing(GroupId),
    /// The group exists, outside the caller's scope.
    #[error("group {0} is outside your groups")]
    OutOfScope(GroupId),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Group `id` of `org`, if it exists and `scope` holds it. Existence is
/// checked first: a group of another organization is missing, not forbidden.
pub async fn group_in_scope(
    db: &Db,
    org: OrgId,
    scope: &Scope,
    id: GroupId,
) -> Result<Group, GroupError> {
    let group = db
        .get_group(org, id)
        .await?
        .ok_or(GroupError::Missing(id))?;
    if !scope.allows(id) {
        return Err(GroupError::OutOfScope(id));
    }
    Ok(group)
}

/// Group `id` of `org`, if it exists, whoever asks (a master's choices, a
/// service token's group): the existence half of [`group_in_scope`].
pub async fn existing_group(db: &Db, org: OrgId, id: GroupId) -> Result<Group, GroupError> {
    group_in_scope(db, org, &Scope::All, id).await
}
