//! `/v1/sync`: directory synchronization (API.md v1.1). A snapshot streams in
//! like an upload and becomes an import of kind `sync`; one source runs one
//! snapshot at a time (a second is refused with 409 while the first is queued,
//! running or waiting for approval); `GET /v1/sync/sources` is the sync log.

use super::groups::{placement_group, unknown_group};
use super::imports::{ImportOut, find};
use super::upload::{check_length, spool};
use crate::auth::{Caller, SyncCaller};
use crate::error::{ApiError, ApiResult, ErrorCode, Path, Query};
use crate::state::AppState;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use roster_shared::model::{Format, GroupId, ImportId, ImportKind, NewImport, OnExisting};
use roster_shared::queue::Job;
use roster_shared::storage::StorageKey;
use serde::Deserialize;
use serde_json::{Value, json};

/// The longest source key.
const MAX_KEY_CHARS: usize = 512;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/sync/sources/{key}/snapshots",
            post(post_snapshot).layer(DefaultBodyLimit::disable()),
        )
        .route("/v1/sync/sources", get(list_sources))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotQuery {
    group_id: Option<String>,
    dry_run: Option<String>,
}

async fn post_snapshot(
    State(state): State<AppState>,
    caller: SyncCaller,
    Path(key): Path<String>,
    Query(query): Query<SnapshotQuery>,
    headers: HeaderMap,
    request: Request,
) -> ApiResult<Response> {
    let ctx = &state.ctx;
    let sender = caller.sender(&state).await?;
    let org = sender.org_id;
    if key.trim().is_empty()
        || key.chars().count() > MAX_KEY_CHARS
        || key.chars().any(char::is_control)
    {
        return Err(ApiError::invalid(format!(
            "the source key must be 1 to {MAX_KEY_CHARS} characters, without control characters"
        )));
    }
    let text = query.group_id.as_deref().map(str::trim).unwrap_or("");
    if text.is_empty() {
        return Err(ApiError::new(
            ErrorCode::GroupRequired,
            "group_id is required",
        ));
    }
    let group_id = text
        .parse()
        .map(GroupId::new)
        .map_err(|_| unknown_group(text))?;
    let scope = ctx.db.scope(&sender).await?;
    placement_group(&state, org, &scope, group_id).await?;
    if !caller.allows(&scope, group_id) {
        return Err(ApiError::forbidden(format!(
            "this service token may not place technicians in group {group_id}"
        )));
    }
    let dry_run = match query.dry_run.as_deref().map(str::trim) {
        None | Some("") => false,
        Some(v) => roster_shared::validate::parse_bool(v)
            .ok_or_else(|| ApiError::invalid(format!("dry_run: '{v}' is not true or false")))?,
    };
    let limit = ctx.config.max_upload_bytes;
    check_length(&headers, limit, false)?;
    std::fs::create_dir_all(&ctx.scratch).map_err(ApiError::internal)?;
    let dir = tempfile::tempdir_in(&ctx.scratch).map_err(ApiError::internal)?;
    let spooled = spool(request.into_body().into_data_stream(), dir.path(), limit).await?;
    if spooled.format != Format::Json {
        return Err(ApiError::new(
            ErrorCode::UnsupportedFormat,
            "a snapshot is a JSON array of {external_id, name, email, enabled}",
        ));
    }
    let source = ctx.db.sync_source(org, &key, group_id).await?;
    let id = ImportId::new();
    let object = StorageKey::Upload { import: id.clone() };
    ctx.store.put_file(&object, &spooled.path).await?;
    let new = NewImport {
        id: id.clone(),
        org_id: org,
        admin_id: sender.id,
        file_name: key.clone(),
        format: Format::Json,
        group_id: Some(group_id),
        dry_run,
        on_existing: OnExisting::Update,
        upload_bytes: spooled.bytes as i64,
        idempotency_key: None,
        kind: ImportKind::Sync,
        sync_source_id: Some(source),
    };
    let import = match ctx.db.create_import(&new, None).await {
        Ok((import, _)) => import,
        Err(e) => {
            let _ = ctx.store.delete(&object).await;
            if e.is_unique_violation() {
                return Err(ApiError::new(
                    ErrorCode::SyncInProgress,
                    format!(
                        "a snapshot of source '{key}' is queued, running or waiting for approval; try again once it has finished"
                    ),
                ));
            }
            return Err(e.into());
        }
    };
    tracing::info!(import.id = %id, source, bytes = spooled.bytes, "sync snapshot accepted");
    if let Err(e) = ctx.queue.enqueue(Job::PlanImport { import_id: id }).await {
        tracing::warn!(error = %e, "could not enqueue the plan; the reconciler will");
    }
    Ok((StatusCode::ACCEPTED, Json(ImportOut::from(&import))).into_response())
}

/// `POST /v1/imports/{id}/approve` (masters): a run held by a safety valve goes on.
pub async fn approve_import(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    caller.require_master()?;
    let import = find(&state, &caller, &id).await?;
    if !state
        .ctx
        .db
        .approve_import(caller.0.org_id, &import.id)
        .await?
    {
        return Err(ApiError::new(
            ErrorCode::NotAwaitingApproval,
            format!(
                "the import is {}; only one that needs approval can be approved",
                import.status.as_str()
            ),
        ));
    }
    state
        .ctx
        .queue
        .enqueue(Job::PlanImport {
            import_id: import.id.clone(),
        })
        .await
        .ok();
    let import = find(&state, &caller, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(ImportOut::from(&import))).into_response())
}

/// `GET /v1/sync/sources`: each source, its group, member count, last run (with
/// its counts) and last error; only the sources whose group the caller may
/// sync into (all of them for a master).
async fn list_sources(State(state): State<AppState>, caller: SyncCaller) -> ApiResult<Json<Value>> {
    let db = &state.ctx.db;
    let sender = caller.sender(&state).await?;
    let org = sender.org_id;
    let scope = db.scope(&sender).await?;
    let mut items = Vec::new();
    for s in db.list_sync_sources(org).await? {
        if !caller.allows(&scope, s.group_id) {
            continue;
        }
        let last = match &s.last_import {
            Some(id) => db.get_import(org, id, None).await?,
            None => None,
        };
        let last_error = last
            .as_ref()
            .and_then(|i| i.error.as_ref())
            .map(|(code, message)| json!({"code": code, "message": message}));
        items.push(json!({
            "key": s.key,
            "group_id": s.group_id,
            "members": s.members,
            "last_run": last.as_ref().map(ImportOut::from),
            "last_error": last_error,
        }));
    }
    Ok(Json(json!({ "items": items })))
}
