//! `/v1/groups`: technician groups, a tree. A master acts on every group; an
//! admin sees and changes only its scope (its groups and their sub-groups).

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use roster_shared::db::{Group, Role};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/groups", get(list_groups).post(create_group))
        .route("/v1/groups/{id}", get(get_group).patch(update_group))
}

#[derive(Debug, Deserialize)]
struct GroupIn {
    name: String,
    parent_id: Option<i64>,
}

/// A patch: absent fields stay; `"parent_id": null` moves the group to the top.
#[derive(Debug, Deserialize)]
struct GroupPatch {
    name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    parent_id: Option<Option<i64>>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
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
    Json(input): Json<GroupIn>,
) -> ApiResult<(StatusCode, Json<Group>)> {
    let db = &state.ctx.db;
    let org = caller.0.org_id;
    let name = check_name(&input.name)?;
    match input.parent_id {
        Some(parent) => {
            db.get_group(org, parent).await?.ok_or_else(|| {
                ApiError::invalid(format!("parent_id: group {parent} does not exist"))
            })?;
            if !db.scope(&caller.0).await?.allows(parent) {
                return Err(ApiError::forbidden(format!(
                    "group {parent} is outside your groups"
                )));
            }
        }
        None => caller.require_master()?,
    }
    let group = db.create_group(org, &name, input.parent_id).await?;
    Ok((StatusCode::CREATED, Json(group)))
}

async fn list_groups(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    let db = &state.ctx.db;
    let scope = db.scope(&caller.0).await?;
    let items: Vec<Group> = db
        .list_groups(caller.0.org_id)
        .await?
        .into_iter()
        .filter(|g| scope.allows(g.id))
        .collect();
    Ok(Json(json!({"items": items, "next": null})))
}

async fn visible(state: &AppState, caller: &Caller, id: i64) -> ApiResult<Group> {
    let group = state
        .ctx
        .db
        .get_group(caller.0.org_id, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if !state.ctx.db.scope(&caller.0).await?.allows(id) {
        return Err(ApiError::forbidden(format!(
            "group {id} is outside your groups"
        )));
    }
    Ok(group)
}

async fn get_group(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<Group>> {
    Ok(Json(visible(&state, &caller, id).await?))
}

async fn update_group(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(patch): Json<GroupPatch>,
) -> ApiResult<Json<Group>> {
    let db = &state.ctx.db;
    let org = caller.0.org_id;
    visible(&state, &caller, id).await?;
    let name = patch.name.as_deref().map(check_name).transpose()?;
    if let Some(parent) = patch.parent_id {
        match parent {
            None => caller.require_master()?,
            Some(parent) => {
                visible(&state, &caller, parent)
                    .await
                    .map_err(|e| match e.status {
                        StatusCode::NOT_FOUND => {
                            ApiError::invalid(format!("parent_id: group {parent} does not exist"))
                        }
                        _ => e,
                    })?;
                // No cycles: the new parent may not be the group or one of its descendants.
                let groups = db.list_groups(org).await?;
                let mut at = Some(parent);
                while let Some(g) = at {
                    if g == id {
                        return Err(ApiError::invalid(
                            "parent_id: a group cannot move under itself or its sub-groups",
                        ));
                    }
                    at = groups.iter().find(|x| x.id == g).and_then(|x| x.parent_id);
                }
            }
        }
        if caller.0.role == Role::Admin && caller.0.group_ids.contains(&id) && parent.is_none() {
            return Err(ApiError::forbidden(
                "only a master administrator may do this",
            ));
        }
    }
    let group = db
        .update_group(org, id, name.as_deref(), patch.parent_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(group))
}
