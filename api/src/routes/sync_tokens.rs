//! `/v1/sync/tokens`: service tokens for directory sync and SCIM (API.md v1.1,
//! "Directory synchronization"). Masters only. A token is shown once, in the
//! answer that creates it, and kept hashed; revoking one takes effect at once.

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, JsonBody, Path};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use roster_shared::model::GroupId;
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/sync/tokens",
            get(list_sync_tokens).post(create_sync_token),
        )
        .route("/v1/sync/tokens/{id}", delete(revoke_sync_token))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenIn {
    name: String,
    /// The technician group a SCIM client with this token provisions into.
    #[serde(default)]
    group_id: Option<GroupId>,
}

async fn create_sync_token(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(input): JsonBody<TokenIn>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.require_master()?;
    let db = &state.ctx.db;
    let org = caller.0.org_id;
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 128 {
        return Err(ApiError::invalid("name: 1 to 128 characters"));
    }
    if let Some(group) = input.group_id {
        roster_shared::access::existing_group(db, org, group)
            .await
            .map_err(super::groups::placement_refused)?;
    }
    let (token, secret) = db
        .create_service_token(org, name, input.group_id, caller.0.id)
        .await?;
    tracing::info!(service_token.id = token.id, "service token created");
    let mut body = serde_json::to_value(&token).map_err(ApiError::internal)?;
    body["token"] = json!(secret);
    Ok((StatusCode::CREATED, Json(body)))
}

/// The organization's live service tokens (never the tokens themselves).
async fn list_sync_tokens(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    caller.require_master()?;
    let items = state.ctx.db.list_service_tokens(caller.0.org_id).await?;
    Ok(Json(json!({"items": items, "next": null})))
}

async fn revoke_sync_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    caller.require_master()?;
    if !state
        .ctx
        .db
        .revoke_service_token(caller.0.org_id, id)
        .await?
    {
        return Err(ApiError::not_found());
    }
    tracing::info!(service_token.id = id, "service token revoked");
    Ok(StatusCode::NO_CONTENT)
}
