//! `/v1/imports`: start an import, poll it, read its rows, download its result, cancel it.

use super::groups::{placement_refused, unknown_group};
use super::upload::{Upload, attachment};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::error::{Path, Query};
use crate::paging::{Page, Paged};
use crate::progress::Progress;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use roster_shared::model::{
    FieldError, GroupId, ImportId, ImportRecord, RowOutcome, RowStatus, TechnicianId,
};
use roster_shared::pipeline::accept::{self, AcceptError, Accepted, Admitted};
use roster_shared::queue::Job;
use roster_shared::storage::StorageKey;
use roster_shared::time::rfc3339;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/imports",
            post(create_import)
                .layer(DefaultBodyLimit::disable())
                .get(list_imports),
        )
        .route("/v1/imports/{id}", get(get_import))
        .route("/v1/imports/{id}/rows", get(list_rows))
        .route("/v1/imports/{id}/result.xlsx", get(get_result))
        .route("/v1/imports/{id}/cancel", post(cancel_import))
        .route(
            "/v1/imports/{id}/approve",
            post(super::sync::approve_import),
        )
}

/// The import resource (API.md).
#[derive(Debug, Serialize)]
pub struct ImportOut {
    id: String,
    kind: &'static str,
    status: &'static str,
    file_name: String,
    format: &'static str,
    group_id: Option<GroupId>,
    dry_run: bool,
    on_existing: &'static str,
    total_rows: Option<i64>,
    processed_rows: i64,
    succeeded_rows: i64,
    failed_rows: i64,
    counts: Value,
    created_at: String,
    started_at: Option<String>,
    finished_at: Option<String>,
    error: Option<Value>,
    result_url: Option<String>,
    rows_per_second: Option<f64>,
    eta_seconds: Option<i64>,
}

impl ImportOut {
    /// With the live figures (API.md, "Live progress").
    pub fn with_progress(mut self, progress: Progress) -> Self {
        self.rows_per_second = progress.rows_per_second;
        self.eta_seconds = progress.eta_seconds;
        self
    }
}

impl From<&ImportRecord> for ImportOut {
    fn from(i: &ImportRecord) -> Self {
        let c = i.counts;
        Self {
            id: i.id.to_string(),
            kind: i.kind.as_str(),
            status: i.status.as_str(),
            file_name: i.file_name.clone(),
            format: i.format.as_str(),
            group_id: i.group_id,
            dry_run: i.dry_run,
            on_existing: i.on_existing.as_str(),
            total_rows: i.total_rows,
            processed_rows: c.processed(),
            succeeded_rows: c.created + c.updated + c.skipped + c.valid + c.unchanged + c.disabled,
            failed_rows: c.failed,
            counts: json!({"created": c.created, "updated": c.updated, "skipped": c.skipped,
                           "valid": c.valid, "failed": c.failed, "not_processed": c.not_processed,
                           "unchanged": c.unchanged, "disabled": c.disabled}),
            created_at: rfc3339(i.created_at),
            started_at: i.started_at.map(rfc3339),
            finished_at: i.finished_at.map(rfc3339),
            error: i
                .error
                .as_ref()
                .map(|(code, message)| json!({"code": code, "message": message})),
            result_url: i
                .has_result
                .then(|| format!("/v1/imports/{}/result.xlsx", i.id)),
            rows_per_second: None,
            eta_seconds: None,
        }
    }
}

/// How long a client refused at the active-import limit is told to wait: an
/// import of a few thousand rows takes about that long.
const ACTIVE_IMPORTS_RETRY_SECS: u64 = 30;

/// Receives the upload (headers and query first, then, once it has a place,
/// its body) and answers with what [`accept::accept`] made of it.
async fn create_import(
    State(state): State<AppState>,
    caller: Caller,
    upload: Upload,
) -> ApiResult<Response> {
    let ctx = &state.ctx;
    let admitted = accept::admit(
        &ctx.db,
        &caller.0,
        upload.idempotency_key.clone(),
        ctx.config.max_active_imports,
    )
    .await
    .map_err(refused)?;
    let slot = match admitted {
        Admitted::Place(slot) => slot,
        Admitted::Repeated(import) => return Ok(answer(Accepted::Repeated(*import))),
    };
    std::fs::create_dir_all(&ctx.scratch).map_err(ApiError::internal)?;
    let dir = tempfile::tempdir_in(&ctx.scratch).map_err(ApiError::internal)?;
    let (options, spooled) = upload.spool(dir.path()).await?;
    let accepted = accept::accept(
        &ctx.db,
        ctx.store.as_ref(),
        ctx.queue.as_ref(),
        &caller.0,
        slot,
        options,
        &spooled,
    )
    .await
    .map_err(refused)?;
    Ok(answer(accepted))
}

/// A new import is 202; the one a repeated `Idempotency-Key` names, 200.
fn answer(accepted: Accepted) -> Response {
    match accepted {
        Accepted::New(import) => (StatusCode::ACCEPTED, Json(ImportOut::from(&import))),
        Accepted::Repeated(import) => (StatusCode::OK, Json(ImportOut::from(&import))),
    }
    .into_response()
}

/// The HTTP answer to an upload [`accept`] refused.
fn refused(e: AcceptError) -> ApiError {
    let detail = e.to_string();
    match e {
        AcceptError::Full(_) => ApiError::rate_limited(detail, ACTIVE_IMPORTS_RETRY_SECS),
        AcceptError::KeyOfAnother => ApiError::new(ErrorCode::IdempotencyKeyUsed, detail),
        AcceptError::GroupNotANumber(text) => unknown_group(&text),
        AcceptError::Group(e) => placement_refused(e),
        AcceptError::Invalid(detail) => ApiError::invalid(detail),
        AcceptError::Db(e) => e.into(),
        AcceptError::Storage(e) => e.into(),
    }
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    limit: Option<i64>,
    after: Option<String>,
    status: Option<String>,
}

async fn list_imports(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Paged<ImportOut>>> {
    let page = Page::<ImportId>::read(query.limit, query.after.as_deref())?;
    let items = state
        .ctx
        .db
        .list_imports(
            caller.0.org_id,
            caller.own_imports(),
            page.after.as_ref().map(|id| id.as_str()),
            page.fetch(),
        )
        .await?;
    Ok(Json(Paged::of(items, &page, |i| i.id.clone()).map(|i| {
        ImportOut::from(&i).with_progress(state.rates.observe(&i))
    })))
}

pub(super) async fn find(state: &AppState, caller: &Caller, id: &str) -> ApiResult<ImportRecord> {
    let id = ImportId::parse(id).ok_or_else(ApiError::not_found)?;
    state
        .ctx
        .db
        .get_import(caller.0.org_id, &id, caller.own_imports())
        .await?
        .ok_or_else(ApiError::not_found)
}

async fn get_import(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ImportOut>> {
    let import = find(&state, &caller, &id).await?;
    Ok(Json(
        ImportOut::from(&import).with_progress(state.rates.observe(&import)),
    ))
}

#[derive(Serialize)]
struct RowOut {
    row: i64,
    email: String,
    status: &'static str,
    technician_id: Option<TechnicianId>,
    errors: Vec<FieldError>,
}

async fn list_rows(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Paged<RowOut>>> {
    let import = find(&state, &caller, &id).await?;
    let status = match query.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(
            RowStatus::parse(s)
                .ok_or_else(|| ApiError::invalid(format!("status: unknown '{s}'")))?,
        ),
    };
    let page = Page::<i64>::read(query.limit, query.after.as_deref())?;
    let rows: Vec<RowOutcome> = state
        .ctx
        .db
        .list_rows(&import.id, status, page.after.unwrap_or(0), page.fetch())
        .await?;
    let rows = Paged::of(rows, &page, |r| r.row);
    Ok(Json(rows.map(|r| RowOut {
        row: r.row,
        email: r.email,
        status: r.status.as_str(),
        technician_id: r.technician_id,
        errors: r.errors,
    })))
}

async fn get_result(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let import = find(&state, &caller, &id).await?;
    if !import.has_result {
        return Err(ApiError::new(
            ErrorCode::NotReady,
            format!(
                "the import is {}; its result exists once it has finished",
                import.status.as_str()
            ),
        ));
    }
    let key = StorageKey::Result {
        import: import.id.clone(),
    };
    let (size, reader) = state.ctx.store.open(&key).await?;
    let stem = import
        .file_name
        .rsplit_once('.')
        .map_or(import.file_name.as_str(), |(stem, _)| stem);
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(reader));
    Ok((
        [
            (header::CONTENT_TYPE, key.content_type().to_owned()),
            (header::CONTENT_LENGTH, size.to_string()),
            (
                header::CONTENT_DISPOSITION,
                attachment(&format!("{stem}-result.xlsx")),
            ),
        ],
        body,
    )
        .into_response())
}

async fn cancel_import(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let import = find(&state, &caller, &id).await?;
    if import.status.is_finished() {
        return Err(ApiError::new(
            ErrorCode::AlreadyFinished,
            format!("the import is {} already", import.status.as_str()),
        ));
    }
    state
        .ctx
        .db
        .request_cancel(caller.0.org_id, &import.id)
        .await?;
    state
        .ctx
        .queue
        .enqueue(Job::FinalizeImport {
            import_id: import.id.clone(),
        })
        .await
        .ok();
    let import = find(&state, &caller, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(ImportOut::from(&import))).into_response())
}
