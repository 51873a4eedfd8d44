//! Chunk: validate one chunk's records against the directory, hash passwords on
//! the blocking pool, and write technicians and outcomes batch by batch, each
//! batch in one transaction that also renews (and so proves) the chunk's lease.
//! Rows that already have an outcome are skipped: a re-run chunk repeats nothing.

use super::hashing::batch_rows;
use super::plan::read_chunk_file;
use super::{Context, StepError, too_many_attempts};
use crate::db::{Existing, Lease, TechnicianWrite};
use crate::model::{FieldError, ImportId, Layout, Record};
use crate::model::{GroupId, ImportRecord, RowOutcome, Scope};
use crate::password::{Credential, Password};
use crate::queue::Job;
use crate::storage::StorageKey;
use crate::validate::{NewTechnician, RowRules};
use judge::{failed, judge, looks_up_emails};
use std::collections::HashSet;

mod judge;

/// What the directory says about an import, loaded once per chunk.
struct Directory {
    rules: RowRules,
    groups: HashSet<GroupId>,
    scope: Scope,
    force_password_change: bool,
    /// Whether batches look up the emails the organization has (`looks_up_emails`).
    look_up_emails: bool,
}

pub(super) async fn process(ctx: &Context, id: &ImportId, chunk_no: i64) -> Result<(), StepError> {
    let lease = Lease {
        import_id: id.clone(),
        chunk_no,
        owner: ctx.worker_id.clone(),
    };
    let Some((plan, attempts)) = ctx.db.claim_chunk(&lease, ctx.lease_ms()).await? else {
        return Ok(()); // done already, or held by a live worker
    };
    // Renews the lease until this function returns, however long a batch takes to hash.
    let _lease_keeper = super::LeaseKeeper::chunk(ctx, &lease);
    // A chunk whose very reading keeps failing (a defect, not an outage) would
    // otherwise be handed out forever: past the budget, the import fails.
    if too_many_attempts(ctx, id, attempts).await? {
        ctx.db.close_chunks(id).await?;
        return Ok(());
    }
    let Some(import) = ctx.db.load_import(id).await? else {
        return Ok(());
    };
    let dir = ctx.scratch_dir()?;
    let file = dir.path().join("chunk.jsonl");
    ctx.store
        .get_to_file(
            &StorageKey::Chunk {
                import: id.clone(),
                chunk: chunk_no,
            },
            &file,
        )
        .await?;
    let records = tokio::task::spawn_blocking(move || read_chunk_file(&file))
        .await
        .map_err(|e| StepError::Internal(e.to_string()))??;
    let recorded: HashSet<i64> = ctx
        .db
        .recorded_rows(id, plan.first_row, plan.last_row)
        .await?
        .into_iter()
        .collect();
    let todo: Vec<Record> = records
        .into_iter()
        .filter(|r| !recorded.contains(&i64::from(r.row)))
        .collect();
    tracing::info!(
        chunk.no = chunk_no,
        rows = todo.len(),
        skipped_done = recorded.len(),
        attempts,
        "chunk claimed"
    );

    if attempts > ctx.config.max_attempts {
        // This chunk keeps interrupting its workers: report its rows instead of trying again.
        tracing::error!(
            chunk.no = chunk_no,
            attempts,
            "chunk interrupted too often; failing its rows"
        );
        let message = format!(
            "not imported: this part of the file was interrupted {} times",
            attempts - 1
        );
        let outcomes = todo
            .iter()
            .map(|r| {
                failed(
                    r,
                    vec![FieldError::new("Row", "interrupted", message.clone())],
                )
            })
            .collect();
        if ctx
            .db
            .commit_batch(
                &lease,
                ctx.lease_ms(),
                import.org_id,
                vec![],
                vec![],
                outcomes,
            )
            .await?
            .is_none()
        {
            return Ok(());
        }
    } else if import.kind == crate::model::ImportKind::Sync {
        if !super::sync::write(ctx, &lease, &import, todo).await? {
            return Ok(());
        }
    } else {
        let directory = load_directory(ctx, &import).await?;
        if !write_batches(ctx, &lease, &import, &directory, todo).await? {
            return Ok(());
        }
    }
    // What the pool has hashed in this process so far: a file of imported
    // hashes leaves it unchanged (tests/tests/it/prehashed.rs reads this line).
    tracing::info!(
        chunk.no = chunk_no,
        passwords_hashed_total = ctx.hasher.hashed(),
        "chunk written"
    );
    if ctx.db.finish_chunk(&lease).await? {
        ctx.queue
            .enqueue(Job::FinalizeImport {
                import_id: id.clone(),
            })
            .await?;
    }
    Ok(())
}

/// The groups the import's administrator may touch now (none if it is gone):
/// every write of a file import or a sync run is held to it.
pub(super) async fn importer_scope(
    ctx: &Context,
    import: &ImportRecord,
) -> Result<Scope, StepError> {
    Ok(match ctx.db.admin(import.org_id, import.admin_id).await? {
        Some(admin) => ctx.db.scope(&admin).await?,
        None => Scope::Groups(HashSet::new()),
    })
}

async fn load_directory(ctx: &Context, import: &ImportRecord) -> Result<Directory, StepError> {
    let settings = ctx.db.settings(import.org_id).await?;
    let scope = importer_scope(ctx, import).await?;
    Ok(Directory {
        rules: RowRules {
            layout: import.layout.unwrap_or(Layout::Full),
            global_group: import.group_id,
            min_password_length: settings.password_policy.rules().min_length,
            min_password_strength: settings.password_policy.rules().min_strength,
            strength_memo: Some(super::strength_memo(&import.id)),
        },
        groups: ctx.db.group_ids(import.org_id).await?,
        scope,
        force_password_change: settings.force_password_change,
        look_up_emails: looks_up_emails(
            import.dry_run,
            import.directory_empty_at_plan,
            import.on_existing,
            &settings.licenses,
        ),
    })
}

/// A row that will be written once its password is hashed.
struct Pending {
    technician: NewTechnician,
    row: i64,
    existing: Option<Existing>,
}

/// A batch judged against the directory: the outcomes known so far and the
/// rows still to hash and write.
struct Judged {
    outcomes: Vec<RowOutcome>,
    pending: Vec<Pending>,
}

/// A batch ready to commit.
struct Hashed {
    outcomes: Vec<RowOutcome>,
    creates: Vec<TechnicianWrite>,
    updates: Vec<(Existing, TechnicianWrite)>,
}

/// Writes a chunk's rows batch by batch. Three stages overlap, one batch apart:
/// judging batch k+2 (validation, on the blocking pool, and the email lookup),
/// hashing batch k+1 (on the hashing pool), committing batch k. So the hashing
/// threads never wait for validation or the database, and at most three batches
/// are in memory. Batch k+1's email lookup cannot depend on batch k's commit:
/// plan already failed every repeated email of the file (`duplicate_in_file`),
/// and a race with another import ends as `email_taken` at the insert.
///
/// Returns false when the chunk was stopped (shutdown, cancel, lost lease); true
/// when every batch was committed.
async fn write_batches(
    ctx: &Context,
    lease: &Lease,
    import: &ImportRecord,
    directory: &Directory,
    todo: Vec<Record>,
) -> Result<bool, StepError> {
    // Only rows with a password to hash cost a hash: a chunk of pre-hashed
    // rows is written in the largest batches (one commit each), not in batches
    // sized for hashing.
    let hashed = todo
        .iter()
        .filter(|r| import.layout.is_some_and(|l| r.hashes_password(l)))
        .count();
    let share = if todo.is_empty() {
        1.0
    } else {
        hashed as f64 / todo.len() as f64
    };
    let batches = split_owned(todo, batch_rows(ctx, share).await);
    let expected = batches.len();
    let (to_hash, mut judged) = tokio::sync::mpsc::channel::<Judged>(1);
    let (to_commit, mut hashed) = tokio::sync::mpsc::channel::<Hashed>(1);

    // Each stage stops when the next one has (its channel closes); an error in
    // any stage ends all three at once.
    let judge_stage = async move {
        for batch in batches {
            let batch = judge(ctx, import, directory, batch).await?;
            if to_hash.send(batch).await.is_err() {
                break;
            }
        }
        Ok::<_, StepError>(())
    };
    let hash_stage = async move {
        while let Some(batch) = judged.recv().await {
            let batch = hash(ctx, directory, batch).await?;
            if to_commit.send(batch).await.is_err() {
                break;
            }
        }
        Ok::<_, StepError>(())
    };
    let commit_stage = async move {
        let mut committed = 0;
        while let Some(batch) = hashed.recv().await {
            if ctx.shutdown.is_cancelled() {
                tracing::info!(
                    chunk.no = lease.chunk_no,
                    "shutting down; giving the chunk back"
                );
                ctx.db.release_chunk(lease).await?;
                return Ok(false);
            }
            if ctx.db.cancel_requested(&lease.import_id).await? {
                tracing::info!(chunk.no = lease.chunk_no, "cancel requested; stopping");
                return Ok(false);
            }
            if !commit(ctx, lease, import, batch).await? {
                tracing::info!(
                    chunk.no = lease.chunk_no,
                    "lease lost; another worker has this chunk"
                );
                return Ok(false);
            }
            committed += 1;
        }
        if committed != expected {
            return Err(StepError::Internal(format!(
                "chunk {}: {committed} of {expected} batches reached the commit",
                lease.chunk_no
            )));
        }
        Ok::<_, StepError>(true)
    };
    let ((), (), finished) = tokio::try_join!(judge_stage, hash_stage, commit_stage)?;
    Ok(finished)
}

/// Hashes a judged batch's passwords on the hashing pool. Each password moves
/// to the pool and is dropped there; the rows keep everything else. A row that
/// gave a hash keeps it as given and never reaches the pool.
async fn hash(ctx: &Context, directory: &Directory, batch: Judged) -> Result<Hashed, StepError> {
    let mut passwords: Vec<Password> = Vec::new();
    let mut rows = Vec::with_capacity(batch.pending.len());
    for p in batch.pending {
        let (credential, mut write) =
            TechnicianWrite::from_valid(p.row, p.technician, directory.force_password_change);
        let to_hash = match credential {
            Credential::Plain(password) => {
                passwords.push(password);
                true
            }
            Credential::Hashed(hash) => {
                write.password_hash = hash.into_string();
                false
            }
        };
        rows.push((p.existing, write, to_hash));
    }
    let mut hashes = ctx.hasher.hash_all(passwords).await?.into_iter();
    let mut creates = Vec::new();
    let mut updates = Vec::new();
    for (existing, mut write, to_hash) in rows {
        if to_hash {
            write.password_hash = hashes
                .next()
                .ok_or_else(|| StepError::Internal("the pool returned too few hashes".into()))?;
        }
        match existing {
            Some(id) => updates.push((id, write)),
            None => creates.push(write),
        }
    }
    Ok(Hashed {
        outcomes: batch.outcomes,
        creates,
        updates,
    })
}

/// Commits a hashed batch. False when the lease was lost.
async fn commit(
    ctx: &Context,
    lease: &Lease,
    import: &ImportRecord,
    batch: Hashed,
) -> Result<bool, StepError> {
    let committed = ctx
        .db
        .commit_batch(
            lease,
            ctx.lease_ms(),
            import.org_id,
            batch.creates,
            batch.updates,
            batch.outcomes,
        )
        .await;
    match committed {
        Ok(counts) => Ok(counts.is_some()),
        // Another worker recorded these rows first: its work stands, ours is rolled back.
        Err(e) if e.is_unique_violation() => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Splits `items` into owned runs of at most `size` (at least 1), in order,
/// moving them: a batch's records (passwords included) are never copied.
fn split_owned<T>(items: Vec<T>, size: usize) -> Vec<Vec<T>> {
    let size = size.max(1);
    let mut runs = Vec::with_capacity(items.len().div_ceil(size));
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        runs.push(items.by_ref().take(size).collect());
    }
    runs
}

#[cfg(test)]
mod tests;
