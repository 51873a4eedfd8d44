//! `/v1/groups`: technician groups, a tree. A master acts on every group; an
//! admin sees and changes only its scope (its groups and their sub-groups).

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorCode, JsonBody};
use crate::error::{Path, Query};
use crate::paging::{MAX_LIMIT, Page, Paged};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use roster_shared::access::{GroupError, group_in_scope};
use roster_shared::model::{Group, GroupId, GroupUpdate, OrgId, Scope};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/groups", get(list_groups).post(create_group))
        .route("/v1/groups/{id}", get(get_group).patch(update_group))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupIn {
    name: String,
    parent_id: Option<GroupId>,
}

/// A patch: absent fields stay; `"parent_id": null` moves the group to the top.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupPatch {
    #[serde(default, deserialize_with = "crate::strict::not_null")]
    name: Option<String>,
    #[serde(default, deserialize_with = "super::present")]
    parent_id: Option<Option<GroupId>>,
}

fn check_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 128 {
        return Err(ApiError::invalid("name: 1 to 128 characters"));
    }
    Ok(name.to_owned())
}

async fn create_group(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(input): JsonBody<GroupIn>,
) -> ApiResult<(StatusCode, Json<Group>)> {
    let db = &state.ctx.db;
    let org = caller.0.org_id;
    let name = check_name(&input.name)?;
    match input.parent_id {
        Some(parent) => {
            let scope = db.scope(&caller.0).await?;
            group_in_scope(db, org, &scope, parent)
                .await
                .map_err(parent_refused)?;
        }
        None => caller.require_master()?,
    }
    let group = db.create_group(org, &name, input.parent_id).await?;
    Ok((StatusCode::CREATED, Json(group)))
}

/// `?q=` finds groups by name (case-insensitive, anywhere in it), for the
/// console's type-ahead: then at most `limit` (default 20) come back.
#[derive(Debug, Deserialize)]
struct ListQuery {
    q: Option<String>,
    limit: Option<i64>,
}

/// A group as lists show it: with its path from the top (`Support / Tier 1`).
#[derive(Debug, Serialize)]
struct GroupOut {
    #[serde(flatten)]
    group: Group,
    path: String,
}

/// Default page size of a search.
const SEARCH_LIMIT: i64 = 20;

async fn list_groups(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Paged<GroupOut>>> {
    let db = &state.ctx.db;
    let scope = db.scope(&caller.0).await?;
    let all = db.list_groups(caller.0.org_id).await?;
    let q = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let default = if q.is_some() { SEARCH_LIMIT } else { MAX_LIMIT };
    let limit = Page::<i64>::read(Some(query.limit.unwrap_or(default)), None)?.limit;
    let needle = q.map(str::to_lowercase);
    let paths = paths(&all);
    let items: Vec<GroupOut> = all
        .into_iter()
        .filter(|g| scope.allows(g.id))
        .filter(|g| {
            needle
                .as_deref()
                .is_none_or(|n| g.name.to_lowercase().contains(n))
        })
        .take(limit as usize)
        .map(|group| GroupOut {
            path: paths.get(&group.id).cloned().unwrap_or_default(),
            group,
        })
        .collect();
    Ok(Json(Paged::all(items)))
}

/// Each group's path: its ancestors' names and its own, joined by " / ".
fn paths(groups: &[Group]) -> HashMap<GroupId, String> {
    let by_id: HashMap<GroupId, &Group> = groups.iter().map(|g| (g.id, g)).collect();
    groups
        .iter()
        .map(|g| {
            let mut names = vec![g.name.as_str()];
            let mut at = g.parent_id;
            // The tree has no cycles (updates refuse them); the bound is a guard.
            while let Some(parent) = at.and_then(|id| by_id.get(&id)) {
                if names.len() > groups.len() {
                    break;
                }
                names.push(parent.name.as_str());
                at = parent.parent_id;
            }
            names.reverse();
            (g.id, names.join(" / "))
        })
        .collect()
}

/// Group `id`, if it exists (else 404) and is in the caller's scope (else 403).
async fn visible(state: &AppState, caller: &Caller, id: GroupId) -> Result<Group, GroupError> {
    let db = &state.ctx.db;
    let scope = db.scope(&caller.0).await?;
    group_in_scope(db, caller.0.org_id, &scope, id).await
}

/// The answer to a group named in the path that may not be read.
fn path_refused(e: GroupError) -> ApiError {
    match e {
        GroupError::Missing(_) => ApiError::not_found(),
        GroupError::OutOfScope(_) => ApiError::forbidden(e.to_string()),
        GroupError::Db(e) => e.into(),
    }
}

/// The answer to a `parent_id` that may not be used.
fn parent_refused(e: GroupError) -> ApiError {
    match e {
        GroupError::Missing(parent) => {
            ApiError::invalid(format!("parent_id: group {parent} does not exist"))
        }
        e => path_refused(e),
    }
}

async fn get_group(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<GroupId>,
) -> ApiResult<Json<Group>> {
    Ok(Json(
        visible(&state, &caller, id).await.map_err(path_refused)?,
    ))
}

async fn update_group(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<GroupId>,
    JsonBody(patch): JsonBody<GroupPatch>,
) -> ApiResult<Json<Group>> {
    let org = caller.0.org_id;
    visible(&state, &caller, id).await.map_err(path_refused)?;
    let name = patch.name.as_deref().map(check_name).transpose()?;
    match patch.parent_id {
        None => {}
        // Only a master may make a top-level group.
        Some(None) => caller.require_master()?,
        // The new parent must be in the caller's scope too: nothing moves out of it.
        Some(Some(parent)) => {
            visible(&state, &caller, parent)
                .await
                .map_err(parent_refused)?;
        }
    }
    match state
        .ctx
        .db
        .update_group(org, id, name.as_deref(), patch.parent_id)
        .await?
    {
        GroupUpdate::Updated(group) => Ok(Json(group)),
        GroupUpdate::Missing => Err(ApiError::not_found()),
        GroupUpdate::Cycle => Err(ApiError::invalid(
            "parent_id: a group cannot move under itself or its sub-groups",
        )),
    }
}

/// The group a request places technicians in (an import's global group, a
/// new or moved technician's, a snapshot's): one that exists in `org` (else
/// 422 `unknown_group`) and that `scope` allows (else 403). Every route that
/// places technicians asks this one function.
pub async fn placement_group(
    state: &AppState,
    org: OrgId,
    scope: &Scope,
    group: GroupId,
) -> Result<GroupId, ApiError> {
    group_in_scope(&state.ctx.db, org, scope, group)
        .await
        .map_err(placement_refused)?;
    Ok(group)
}

/// The answer to a group that technicians may not be placed in.
pub fn placement_refused(e: GroupError) -> ApiError {
    match e {
        GroupError::Missing(group) => unknown_group(&group.to_string()),
        GroupError::OutOfScope(group) => {
            ApiError::forbidden(format!("you may not place technicians in group {group}"))
        }
        GroupError::Db(e) => e.into(),
    }
}

/// 422 `unknown_group` for the group the request named as `text`.
pub fn unknown_group(text: &str) -> ApiError {
    ApiError::new(
        ErrorCode::UnknownGroup,
        format!("group '{text}' does not exist"),
    )
}
