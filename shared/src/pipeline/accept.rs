//! Accepting an upload, the step before plan: an organization holds at most
//! `max_active_imports` imports queued, running or being uploaded, an
//! `Idempotency-Key` names one import for 24 hours, and an upload becomes an
//! import only once it is stored, registered and sent to the queue.
//!
//! Two calls, because one of them must come before the body is read:
//! [`admit`] takes the upload's place among the organization's active imports
//! (or finds the import a repeated key names), then, once the bytes are
//! spooled to a file, [`accept`] reads the options, stores the file,
//! registers the import and enqueues its plan.

use crate::access::{GroupError, group_in_scope};
use crate::db::{Admission, Db, DbError};
use crate::model::OnExisting;
use crate::model::{Admin, Format, GroupId, ImportId, ImportKind, ImportRecord, NewImport};
use crate::queue::{Job, Queue};
use crate::storage::{ObjectStore, StorageError, StorageKey};
use serde::Deserialize;
use std::path::PathBuf;

/// An upload spooled to a local file, its format told from its first bytes.
pub struct Spooled {
    pub path: PathBuf,
    pub bytes: u64,
    pub format: Format,
}

/// Options of a new import, as the request carried them (query string or
/// form fields); [`accept`] reads them.
#[derive(Debug, Default, Deserialize)]
pub struct ImportOptions {
    /// The file's name, without any folder part.
    pub file_name: Option<String>,
    pub group_id: Option<String>,
    pub dry_run: Option<String>,
    pub on_existing: Option<String>,
}

impl ImportOptions {
    /// The options a form may carry besides `file` and `file_name`.
    pub const NAMES: [&str; 3] = ["group_id", "dry_run", "on_existing"];

    /// Sets the option `name` (one of [`Self::NAMES`] or `file_name`).
    pub fn set(&mut self, name: &str, value: String) {
        match name {
            "file_name" => self.file_name = Some(value),
            "group_id" => self.group_id = Some(value),
            "dry_run" => self.dry_run = Some(value),
            "on_existing" => self.on_existing = Some(value),
            _ => {}
        }
    }

    /// The options other than the file name, by name, for checks every one must pass.
    pub fn texts(&self) -> [(&'static str, Option<&str>); 3] {
        [
            ("group_id", self.group_id.as_deref()),
            ("dry_run", self.dry_run.as_deref()),
            ("on_existing", self.on_existing.as_deref()),
        ]
    }
}

/// Why an upload is not (or not newly) an import.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    /// The organization's active imports are at their limit.
    #[error(
        "the organization has {0} imports queued or running already; try again once one has finished"
    )]
    Full(i64),
    /// A repeated `Idempotency-Key` names an import the caller may not read.
    #[error("this Idempotency-Key already names another administrator's import; send a new key")]
    KeyOfAnother,
    /// `group_id` is not a number.
    #[error("group '{0}' does not exist")]
    GroupNotANumber(String),
    /// The group to place technicians in is missing or out of the caller's scope.
    #[error(transparent)]
    Group(GroupError),
    /// An option's value is not one it can take.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<GroupError> for AcceptError {
    fn from(e: GroupError) -> Self {
        match e {
            GroupError::Db(e) => AcceptError::Db(e),
            e => AcceptError::Group(e),
        }
    }
}

/// An upload's answer: a new import, or the one its `Idempotency-Key` named.
#[derive(Debug)]
pub enum Accepted {
    New(ImportRecord),
    Repeated(ImportRecord),
}

/// What [`admit`] found.
pub enum Admitted {
    /// A place for the upload: read its body, then [`accept`] it.
    Place(Slot),
    /// The key names an import of the last 24 hours that the caller may read:
    /// that one, and no new import (the body need not be read).
    Repeated(Box<ImportRecord>),
}

/// An upload's place among its organization's active imports, with its
/// `Idempotency-Key`: given back when the upload is refused or its client goes
/// away, unless it became the import.
pub struct Slot {
    db: Db,
    id: Option<String>,
    idempotency_key: Option<String>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            let db = self.db.clone();
            // Also on a dropped request (the client went away): a task, not an await.
            tokio::spawn(async move {
                if let Err(e) = db.free_upload_slot(&id).await {
                    tracing::warn!(error = %e, "could not free an upload's place; it lapses within the hour");
                }
            });
        }
    }
}

/// Takes a place for `caller`'s upload, before its body is read: refused
/// when `max_active` imports are active already; with an `idempotency_key`
/// that names an import of the last 24 hours, that import instead.
pub async fn admit(
    db: &Db,
    caller: &Admin,
    idempotency_key: Option<String>,
    max_active: i64,
) -> Result<Admitted, AcceptError> {
    match db
        .admit_upload(caller.org_id, idempotency_key.as_deref(), max_active)
        .await?
    {
        Admission::Existing(import) => Ok(Admitted::Repeated(Box::new(repeated(caller, *import)?))),
        Admission::Full => Err(AcceptError::Full(max_active)),
        Admission::Admitted(id) => Ok(Admitted::Place(Slot {
            db: db.clone(),
            id: Some(id),
            idempotency_key,
        })),
    }
}

/// Makes the spooled `upload` an import of `caller`'s in the place `slot`:
/// reads `options`, stores the file, registers the import and enqueues its
/// plan. A key repeated meanwhile answers with its import, and nothing is kept.
pub async fn accept(
    db: &Db,
    store: &dyn ObjectStore,
    queue: &dyn Queue,
    caller: &Admin,
    mut slot: Slot,
    options: ImportOptions,
    upload: &Spooled,
) -> Result<Accepted, AcceptError> {
    let group_id = group(db, caller, options.group_id.as_deref()).await?;
    let dry_run = match options.dry_run.as_deref().map(str::trim) {
        None | Some("") => false,
        Some(v) => crate::validate::parse_bool(v)
            .ok_or_else(|| AcceptError::Invalid(format!("dry_run: '{v}' is not true or false")))?,
    };
    let on_existing = match options.on_existing.as_deref().map(str::trim) {
        None | Some("") => OnExisting::Fail,
        Some(v) => OnExisting::parse(v).ok_or_else(|| {
            AcceptError::Invalid(format!("on_existing: '{v}' is not fail, skip or update"))
        })?,
    };
    let file_name = options
        .file_name
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("upload.{}", upload.format.as_str()));

    let id = ImportId::new();
    let key = StorageKey::Upload { import: id.clone() };
    store.put_file(&key, &upload.path).await?;
    let new = NewImport {
        id: id.clone(),
        org_id: caller.org_id,
        admin_id: caller.id,
        file_name,
        format: upload.format,
        group_id,
        dry_run,
        on_existing,
        upload_bytes: upload.bytes as i64,
        idempotency_key: slot.idempotency_key.take(),
        kind: ImportKind::File,
        sync_source_id: None,
    };
    let (import, created) = match db.create_import(&new, slot.id.as_deref()).await {
        Ok(answer) => answer,
        Err(e) => {
            // Registering failed: the stored upload would be an orphan holding passwords.
            let _ = store.delete(&key).await;
            return Err(e.into());
        }
    };
    // The import holds the place now (or, for a key's repeat, the place is gone).
    slot.id = None;
    if !created {
        let _ = store.delete(&key).await;
        return Ok(Accepted::Repeated(repeated(caller, import)?));
    }
    tracing::info!(import.id = %id, format = upload.format.as_str(), bytes = upload.bytes, "import accepted");
    if let Err(e) = queue.enqueue(Job::PlanImport { import_id: id }).await {
        // The import is registered: the reconciler will send it again.
        tracing::warn!(error = %e, "could not enqueue the plan; the reconciler will");
    }
    Ok(Accepted::New(import))
}

/// The import's global group, from the `group_id` option: none when absent
/// or blank, else a group of the organization in the caller's scope.
async fn group(
    db: &Db,
    caller: &Admin,
    text: Option<&str>,
) -> Result<Option<GroupId>, AcceptError> {
    let Some(text) = text.map(str::trim).filter(|g| !g.is_empty()) else {
        return Ok(None);
    };
    let id = text
        .parse()
        .map(GroupId::new)
        .map_err(|_| AcceptError::GroupNotANumber(text.to_owned()))?;
    let scope = db.scope(caller).await?;
    group_in_scope(db, caller.org_id, &scope, id).await?;
    Ok(Some(id))
}

/// The import a repeated key names, if the caller may read it (an admin reads
/// only its own): answering with another administrator's import would show
/// one the caller may not read.
fn repeated(caller: &Admin, import: ImportRecord) -> Result<ImportRecord, AcceptError> {
    if caller.own_imports().is_some_and(|me| me != import.admin_id) {
        return Err(AcceptError::KeyOfAnother);
    }
    Ok(import)
}

#[cfg(test)]
mod tests;
