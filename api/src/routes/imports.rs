//! `/v1/imports`: start an import, poll it, read its rows, download its result, cancel it.

use super::groups::{placement_group, unknown_group};
use super::upload::{FIELD_BYTES, Spooled, attachment, check_declared, check_length, check_text};
use super::upload::{field_text, file_name, idempotency_key, spool};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::error::{Path, Query};
use crate::paging::{Page, Paged};
use crate::progress::Progress;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Multipart, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use roster_shared::db::Admission;
use roster_shared::model::{FieldError, ImportId, OnExisting, RowStatus};
use roster_shared::model::{GroupId, ImportRecord, NewImport, RowOutcome, TechnicianId};
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

/// Options of a new import, from the query string or form fields.
#[derive(Debug, Default, Deserialize)]
pub struct ImportOptions {
    file_name: Option<String>,
    group_id: Option<String>,
    dry_run: Option<String>,
    on_existing: Option<String>,
}

impl ImportOptions {
    /// The options a form may carry besides `file` and `file_name`.
    const NAMES: [&str; 3] = ["group_id", "dry_run", "on_existing"];

    fn set(&mut self, name: &str, value: String) {
        match name {
            "file_name" => self.file_name = Some(value),
            "group_id" => self.group_id = Some(value),
            "dry_run" => self.dry_run = Some(value),
            "on_existing" => self.on_existing = Some(value),
            _ => {}
        }
    }
}

/// How long a client refused at the active-import limit is told to wait: an
/// import of a few thousand rows takes about that long.
const ACTIVE_IMPORTS_RETRY_SECS: u64 = 30;

/// An upload's place among its organization's active imports: given back when
/// the upload is refused or its client goes away, unless it became the import.
struct Slot {
    db: roster_shared::db::Db,
    id: Option<String>,
}

impl Slot {
    /// The place's id, kept by the import from now on.
    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            let db = self.db.clone();
            // Also on a dropped handler (the client went away): a task, not an await.
            tokio::spawn(async move {
                if let Err(e) = db.free_upload_slot(&id).await {
                    tracing::warn!(error = %e, "could not free an upload's place; it lapses within the hour");
                }
            });
        }
    }
}

impl ImportOptions {
    /// Every option is a short text without control characters (form fields
    /// are bounded while read, query values here).
    fn check(&self) -> ApiResult<()> {
        for (name, value) in [
            ("group_id", &self.group_id),
            ("dry_run", &self.dry_run),
            ("on_existing", &self.on_existing),
        ] {
            if let Some(value) = value {
                check_text(name, value, FIELD_BYTES)?;
            }
        }
        Ok(())
    }
}

async fn create_import(
    State(state): State<AppState>,
    caller: Caller,
    Query(mut options): Query<ImportOptions>,
    headers: HeaderMap,
    request: Request,
) -> ApiResult<Response> {
    let ctx = &state.ctx;
    let org = caller.0.org_id;
    let limit = ctx.config.max_upload_bytes;
    let is_multipart = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    // Everything the headers and the query can tell is refused before the body is read.
    check_length(&headers, limit, is_multipart)?;
    let idempotency_key = idempotency_key(&headers)?;
    options.check()?;
    let mut given_name = options
        .file_name
        .take()
        .map(|n| file_name(&n))
        .transpose()?;

    let slot = match ctx
        .db
        .admit_upload(
            org,
            idempotency_key.as_deref(),
            ctx.config.max_active_imports,
        )
        .await?
    {
        Admission::Existing(import) => return repeated(&caller, &import),
        Admission::Full => {
            return Err(ApiError::rate_limited(
                format!(
                    "the organization has {} imports queued or running already; try again once one has finished",
                    ctx.config.max_active_imports
                ),
                ACTIVE_IMPORTS_RETRY_SECS,
            ));
        }
        Admission::Admitted(id) => Slot {
            db: ctx.db.clone(),
            id: Some(id),
        },
    };

    std::fs::create_dir_all(&ctx.scratch).map_err(ApiError::internal)?;
    let dir = tempfile::tempdir_in(&ctx.scratch).map_err(ApiError::internal)?;
    let spooled: Spooled = if is_multipart {
        let mut multipart =
            <Multipart as axum::extract::FromRequest<()>>::from_request(request, &())
                .await
                .map_err(|e| ApiError::invalid(e.body_text()))?;
        let mut spooled = None;
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(|e| ApiError::invalid(e.body_text()))?
        {
            let name = field.name().unwrap_or_default().to_owned();
            if name == "file" {
                if given_name.is_none() {
                    given_name = field.file_name().map(file_name).transpose()?;
                }
                check_declared(field.content_type(), given_name.as_deref())?;
                spooled = Some(spool(field, dir.path(), limit).await?);
            } else if name == "file_name" {
                given_name = Some(file_name(&field_text(field, &name).await?)?);
            } else if ImportOptions::NAMES.contains(&name.as_str()) {
                let value = field_text(field, &name).await?;
                options.set(&name, value);
            }
            // Other fields are no option: never read, never stored (the field
            // is skipped by reading on to the next one).
        }
        spooled.ok_or_else(|| ApiError::invalid("the form has no 'file' part"))?
    } else {
        let declared = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        check_declared(declared, given_name.as_deref())?;
        spool(request.into_body().into_data_stream(), dir.path(), limit).await?
    };

    let group_id = match options
        .group_id
        .as_deref()
        .map(str::trim)
        .filter(|g| !g.is_empty())
    {
        None => None,
        Some(text) => {
            let id = text
                .parse()
                .map(GroupId::new)
                .map_err(|_| unknown_group(text))?;
            let scope = ctx.db.scope(&caller.0).await?;
            Some(placement_group(&state, org, &scope, id).await?)
        }
    };
    let dry_run = match options.dry_run.as_deref().map(str::trim) {
        None | Some("") => false,
        Some(v) => roster_shared::validate::parse_bool(v)
            .ok_or_else(|| ApiError::invalid(format!("dry_run: '{v}' is not true or false")))?,
    };
    let on_existing = match options.on_existing.as_deref().map(str::trim) {
        None | Some("") => OnExisting::Fail,
        Some(v) => OnExisting::parse(v).ok_or_else(|| {
            ApiError::invalid(format!("on_existing: '{v}' is not fail, skip or update"))
        })?,
    };
    let file_name = given_name
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("upload.{}", spooled.format.as_str()));

    let id = ImportId::new();
    let key = StorageKey::Upload { import: id.clone() };
    ctx.store.put_file(&key, &spooled.path).await?;
    let new = NewImport {
        id: id.clone(),
        org_id: org,
        admin_id: caller.0.id,
        file_name,
        format: spooled.format,
        group_id,
        dry_run,
        on_existing,
        upload_bytes: spooled.bytes as i64,
        idempotency_key,
        kind: roster_shared::model::ImportKind::File,
        sync_source_id: None,
    };
    let (import, created) = match ctx.db.create_import(&new, slot.id()).await {
        Ok(answer) => answer,
        Err(e) => {
            // Registering failed: the stored upload would be an orphan holding passwords.
            let _ = ctx.store.delete(&key).await;
            return Err(e.into());
        }
    };
    // The import holds the place now (or, for a key's repeat, the place is gone).
    let mut slot = slot;
    slot.id = None;
    if !created {
        let _ = ctx.store.delete(&key).await;
        return repeated(&caller, &import);
    }
    tracing::info!(import.id = %id, format = spooled.format.as_str(), bytes = spooled.bytes, "import accepted");
    if let Err(e) = ctx.queue.enqueue(Job::PlanImport { import_id: id }).await {
        // The import is registered: the reconciler will send it again.
        tracing::warn!(error = %e, "could not enqueue the plan; the reconciler will");
    }
    Ok((StatusCode::ACCEPTED, Json(ImportOut::from(&import))).into_response())
}

/// The answer to a repeated `Idempotency-Key`: the import it names (200), but
/// only if the caller may read it (an admin sees only its own): answering with
/// another administrator's import would show one the caller may not read.
fn repeated(caller: &Caller, import: &ImportRecord) -> ApiResult<Response> {
    if caller.own_imports().is_some_and(|me| me != import.admin_id) {
        return Err(ApiError::new(
            ErrorCode::IdempotencyKeyUsed,
            "this Idempotency-Key already names another administrator's import; send a new key",
        ));
    }
    Ok((StatusCode::OK, Json(ImportOut::from(import))).into_response())
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
