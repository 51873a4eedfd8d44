//! Sync runs (`kind = sync`): the plan reads a directory snapshot (a JSON array
//! of `{external_id, name, email, enabled}`), adds a row for each member the
//! source provisioned that is gone from it, checks the safety valves, and
//! writes chunks as a file's plan does; chunks then apply members through
//! `Db::commit_sync_batch`. The rules kept here: a snapshot that is not whole
//! and well-formed changes nothing (the import fails), and a run that would
//! disable more than [`MAX_DISABLES`] technicians or more than a third of the
//! source's members, or empties a source, waits for a master's approval.

use super::{Context, StepError};
use crate::db::{ChunkPlan, Lease, SyncMember, SyncTarget};
use crate::model::{FieldError, ImportRecord, Layout, Record};
use crate::storage::StorageKey;
use crate::validate::email_key;
use serde::Deserialize;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::io::Write;

/// More disables than this in one run wait for approval.
pub const MAX_DISABLES: usize = 500;
/// Members per chunk, unless `ROSTER_CHUNK_ROWS` says otherwise (a member
/// hashes nothing, so the hash cost that sizes a file's chunks does not apply).
const CHUNK_ROWS: usize = 2_000;
/// Members per transaction.
const BATCH_ROWS: usize = 250;
/// The result spreadsheet's columns (a chunk record's cells).
pub const SYNC_COLUMNS: [&str; 5] = ["External ID", "Name", "Email", "Enabled", "In Directory"];
/// A password hash no password matches: new technicians get it while the
/// organization has no default password set (they cannot sign in until one is).
const NO_PASSWORD: &str = "!no-default-password";

/// One member as `POST /v1/sync/sources/{key}/snapshots` receives it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Incoming {
    external_id: String,
    name: String,
    #[serde(default)]
    email: Option<String>,
    enabled: bool,
}

/// Why a snapshot is refused as a whole.
fn refuse(message: String) -> Result<Vec<Incoming>, (String, String)> {
    Err(("unreadable_file".into(), message))
}

/// Reads and checks the whole snapshot: a JSON array, each member well formed,
/// each external id once.
fn read_snapshot(path: &std::path::Path) -> Result<Vec<Incoming>, (String, String)> {
    let file = std::fs::File::open(path).map_err(|e| ("internal".to_string(), e.to_string()))?;
    let members: Vec<Incoming> = match serde_json::from_reader(std::io::BufReader::new(file)) {
        Ok(m) => m,
        Err(e) => return refuse(format!("the snapshot is not an array of members: {e}")),
    };
    let mut seen = HashSet::new();
    for (i, m) in members.iter().enumerate() {
        if m.external_id.trim().is_empty() || m.external_id.len() > 256 {
            return refuse(format!(
                "member {}: external_id must be 1 to 256 characters",
                i + 1
            ));
        }
        if m.name.trim().is_empty() || m.name.len() > 256 {
            return refuse(format!(
                "member {}: name must be 1 to 256 characters",
                i + 1
            ));
        }
        if !seen.insert(m.external_id.as_str()) {
            return refuse(format!(
                "member {}: external_id '{}' appears twice",
                i + 1,
                m.external_id
            ));
        }
    }
    Ok(members)
}

fn yes(v: bool) -> String {
    if v { "Yes" } else { "No" }.to_owned()
}

/// Plans a sync run (the plan step's claim is held).
pub(super) async fn plan(ctx: &Context, import: &ImportRecord) -> Result<(), StepError> {
    let id = &import.id;
    let source = import
        .sync_source_id
        .ok_or_else(|| StepError::Internal("a sync import without a source".into()))?;
    let dir = ctx.scratch_dir()?;
    let upload = dir.path().join("upload");
    ctx.store
        .get_to_file(&StorageKey::Upload { import: id.clone() }, &upload)
        .await?;
    let read = tokio::task::spawn_blocking(move || read_snapshot(&upload))
        .await
        .map_err(|e| StepError::Internal(e.to_string()))?;
    let members = match read {
        Ok(m) => m,
        Err((code, message)) => {
            ctx.db.fail_import(id, &code, &message).await?;
            ctx.store.delete_inputs(id, 0).await?;
            ctx.db.mark_purged(id).await?;
            return Ok(());
        }
    };
    let links = ctx.db.sync_links(import.org_id, source).await?;
    let present: HashSet<&str> = members.iter().map(|m| m.external_id.as_str()).collect();
    let linked_enabled: HashSet<&str> = links
        .iter()
        .filter(|l| l.enabled)
        .map(|l| l.external_id.as_str())
        .collect();
    let mut rows: Vec<Record> = Vec::with_capacity(members.len());
    // A directory may give two members one email (a shared mailbox, a copied
    // entry): the first keeps it, each later one fails, as in a file.
    let mut first_with: HashMap<String, u32> = HashMap::new();
    for m in &members {
        let row = rows.len() as u32 + 1;
        let email = m.email.as_deref().unwrap_or("").trim().to_owned();
        let mut errors = vec![];
        if !email.is_empty() {
            match first_with.entry(email_key(&email)) {
                Entry::Occupied(first) => errors.push(FieldError::new(
                    "Email",
                    "duplicate_in_file",
                    format!(
                        "'{email}' is also the email of member {} of the snapshot",
                        first.get()
                    ),
                )),
                Entry::Vacant(slot) => {
                    slot.insert(row);
                }
            }
        }
        rows.push(Record {
            row,
            cells: vec![
                m.external_id.clone(),
                m.name.trim().to_owned(),
                email,
                yes(m.enabled),
                yes(true),
            ],
            errors,
        });
    }
    let mut disables = members
        .iter()
        .filter(|m| !m.enabled && linked_enabled.contains(m.external_id.as_str()))
        .count();
    for l in links
        .iter()
        .filter(|l| l.enabled && !present.contains(l.external_id.as_str()))
    {
        disables += 1;
        rows.push(Record {
            row: rows.len() as u32 + 1,
            cells: vec![
                l.external_id.clone(),
                l.name.clone(),
                l.email.clone(),
                yes(false),
                yes(false),
            ],
            errors: vec![],
        });
    }
    let source_members = linked_enabled.len();
    if !import.approved {
        let valve = if members.is_empty() && source_members > 0 {
            Some(format!(
                "the snapshot is empty and the source has {source_members} members"
            ))
        } else if disables > MAX_DISABLES {
            Some(format!(
                "the run would disable {disables} technicians (more than {MAX_DISABLES})"
            ))
        } else if source_members > 0 && disables * 3 > source_members {
            Some(format!(
                "the run would disable {disables} of the source's {source_members} members (more than a third)"
            ))
        } else {
            None
        };
        if let Some(reason) = valve {
            tracing::warn!(disables, source_members, "sync run held for approval");
            ctx.db
                .hold_for_approval(id, &ctx.worker_id, &reason)
                .await?;
            return Ok(());
        }
    }
    let mut chunks = Vec::new();
    let chunk_rows = ctx.config.chunk_rows.unwrap_or(CHUNK_ROWS);
    for (chunk_no, part) in rows.chunks(chunk_rows).enumerate() {
        let file = dir.path().join(format!("chunk-{chunk_no}.jsonl"));
        let mut out = std::io::BufWriter::new(std::fs::File::create(&file).map_err(io)?);
        for record in part {
            serde_json::to_writer(&mut out, record)
                .map_err(|e| StepError::Internal(e.to_string()))?;
            out.write_all(b"\n").map_err(io)?;
        }
        out.flush().map_err(io)?;
        drop(out);
        let plan = ChunkPlan {
            chunk_no: chunk_no as i64,
            first_row: i64::from(part[0].row),
            last_row: i64::from(part[part.len() - 1].row),
            row_count: part.len() as i64,
        };
        ctx.store
            .put_file(
                &StorageKey::Chunk {
                    import: id.clone(),
                    chunk: plan.chunk_no,
                },
                &file,
            )
            .await?;
        chunks.push(plan);
    }
    let header: Vec<String> = SYNC_COLUMNS.iter().map(|c| c.to_string()).collect();
    tracing::info!(
        members = members.len(),
        disables,
        chunks = chunks.len(),
        "sync planned"
    );
    if ctx
        .db
        .save_plan(
            id,
            &ctx.worker_id,
            Layout::Full,
            &header,
            rows.len() as i64,
            &chunks,
        )
        .await?
    {
        super::enqueue_planned(ctx, id, &chunks).await?;
    }
    Ok(())
}

fn io(e: std::io::Error) -> StepError {
    StepError::Internal(format!("could not stage a chunk: {e}"))
}

/// A chunk record back as a member.
fn member(r: &Record) -> SyncMember {
    let cell = |i: usize| r.cells.get(i).cloned().unwrap_or_default();
    SyncMember {
        row: i64::from(r.row),
        external_id: cell(0),
        name: cell(1),
        email: cell(2),
        enabled: cell(3) == "Yes",
        in_directory: cell(4) == "Yes",
        errors: r.errors.clone(),
    }
}

/// Applies a chunk's members batch by batch. Returns false when stopped
/// (shutdown, cancel, lost lease), as `chunk::write_batches` does.
pub(super) async fn write(
    ctx: &Context,
    lease: &Lease,
    import: &ImportRecord,
    todo: Vec<Record>,
) -> Result<bool, StepError> {
    let source = import
        .sync_source_id
        .ok_or_else(|| StepError::Internal("a sync import without a source".into()))?;
    let target = SyncTarget {
        org: import.org_id,
        source,
        group_id: import
            .group_id
            .ok_or_else(|| StepError::Internal("a sync import without a group".into()))?,
        password_hash: ctx
            .db
            .sync_default_password_hash(import.org_id)
            .await?
            .unwrap_or_else(|| NO_PASSWORD.to_owned()),
        dry_run: import.dry_run,
        scope: super::chunk::importer_scope(ctx, import).await?,
    };
    let members: Vec<SyncMember> = todo.iter().map(member).collect();
    for batch in members.chunks(BATCH_ROWS) {
        if ctx.shutdown.is_cancelled() {
            ctx.db.release_chunk(lease).await?;
            return Ok(false);
        }
        if ctx.db.cancel_requested(&lease.import_id).await? {
            return Ok(false);
        }
        if ctx
            .db
            .commit_sync_batch(lease, ctx.lease_ms(), &target, batch)
            .await?
            .is_none()
        {
            return Ok(false);
        }
    }
    Ok(true)
}
