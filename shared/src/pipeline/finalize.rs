//! Finalize: stream every chunk's records and their outcomes into the result
//! spreadsheet (constant memory), store it, finish the import, then delete the
//! upload and the chunk objects: they hold plaintext passwords. A cancelled
//! import's rows without an outcome are recorded as `not_processed` here.
//!
//! Finalize starts when the plan is saved and follows the chunks in file order:
//! chunk k's result rows are written as soon as chunk k is done, while the workers
//! hash later chunks, so that little is left to write when the last chunk ends.
//! It holds the import's lease all along; if its worker dies, the reconciler sends
//! it again and the next holder starts the spreadsheet over.

use super::plan::read_chunk_file;
use super::{Context, StepError, interrupted_too_often, too_many_attempts};
use crate::db::Step;
use crate::model::{FULL_COLUMNS, ImportId, ImportKind, ImportStatus, Layout, Record, RowStatus};
use crate::model::{FieldError, RowOutcome};
use crate::queue::Job;
use crate::report::{ResultWriter, Summary};
use crate::storage::StorageKey;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::mpsc;

/// A row's cells as the result shows them: an imported password hash is left
/// out, as the password is (the writer blanks that one). A file whose header
/// has no Password Hash column (JSON's results show the full layout's ten)
/// loses the cell; a file that has one keeps its column, empty.
fn without_hash(mut cells: Vec<String>, layout: Layout, columns: usize) -> Vec<String> {
    if let Some(at) = layout.hash_index().filter(|at| *at < cells.len()) {
        if columns < layout.columns().len() {
            cells.remove(at);
        } else {
            cells[at].clear();
        }
    }
    cells
}

/// How often finalize looks whether the chunk it waits for is done.
const FOLLOW_EVERY: Duration = Duration::from_millis(200);

pub(super) async fn finalize(ctx: &Context, id: &ImportId) -> Result<(), StepError> {
    let Some(claim) = ctx
        .db
        .claim_import(id, &ctx.worker_id, ctx.lease_ms(), Step::Finalize)
        .await?
    else {
        return Ok(());
    };
    if interrupted_too_often(ctx, id, claim, "finalize").await?
        || too_many_attempts(ctx, id, claim.attempts).await?
    {
        return Ok(());
    }
    // Renews the import's lease until this function returns, however long the
    // chunks take.
    let _lease_keeper = super::LeaseKeeper::import(ctx, id);
    let Some(import) = ctx.db.load_import(id).await? else {
        return Ok(());
    };
    let cancelled_before = import.cancel_requested;
    if cancelled_before {
        ctx.db.close_chunks(id).await?;
    }
    let layout = import.layout.unwrap_or(Layout::Full);
    let kind = import.kind;
    let header = import
        .header
        .clone()
        .unwrap_or_else(|| FULL_COLUMNS.iter().map(|c| c.to_string()).collect());
    let columns = header.len();
    let dir = ctx.scratch_dir()?;
    let result_path = dir.path().join("result.xlsx");

    // The spreadsheet is written on a blocking thread fed a chunk's rows at a time
    // (one hand-off per chunk: one per row cost a wake-up each).
    let (tx, mut rx) = mpsc::channel::<Vec<(Vec<String>, RowStatus, Vec<FieldError>)>>(1);
    let writer = {
        let path = result_path.clone();
        tokio::task::spawn_blocking(move || -> Result<ResultWriter, String> {
            let mut writer = match kind {
                ImportKind::File => ResultWriter::create(&path, &header, layout.password_index()),
                ImportKind::Sync => ResultWriter::create_without_password(&path, &header),
            }
            .map_err(|e| e.to_string())?;
            while let Some(rows) = rx.blocking_recv() {
                for (cells, status, errors) in rows {
                    writer
                        .write_outcome(&cells, status, &errors)
                        .map_err(|e| e.to_string())?;
                }
            }
            Ok(writer)
        })
    };

    // Chunk k+1 is downloaded and its outcomes read while chunk k's rows are
    // written: the spreadsheet writer, the object store and the database overlap.
    let chunks = ctx.db.chunks(id).await?;
    let (to_write, mut fetched) = mpsc::channel::<Fetched>(1);
    let scratch = dir.path().to_path_buf();
    let fetch_stage = async move {
        let mut cancelled = cancelled_before;
        for chunk in chunks {
            if !wait_for_chunk(ctx, id, chunk.chunk_no, &mut cancelled).await? {
                return Ok(None);
            }
            let file = scratch.join(format!("chunk-{}.jsonl", chunk.chunk_no));
            let key = StorageKey::Chunk {
                import: id.clone(),
                chunk: chunk.chunk_no,
            };
            ctx.store.get_to_file(&key, &file).await?;
            let records = tokio::task::spawn_blocking(move || {
                let records = read_chunk_file(&file);
                let _ = std::fs::remove_file(&file);
                records
            })
            .await
            .map_err(|e| StepError::Internal(e.to_string()))??;
            let outcomes = ctx
                .db
                .rows_between(id, chunk.first_row, chunk.last_row)
                .await?
                .into_iter()
                .map(|o| (o.row, o))
                .collect();
            let fetched = Fetched {
                records,
                outcomes,
                cancelled,
            };
            if to_write.send(fetched).await.is_err() {
                break;
            }
        }
        Ok::<_, StepError>(Some(cancelled))
    };
    let write_stage = async move {
        while let Some(Fetched {
            records,
            mut outcomes,
            cancelled,
        }) = fetched.recv().await
        {
            let mut missing = Vec::new();
            let mut rows = Vec::with_capacity(records.len());
            for record in records {
                let row = i64::from(record.row);
                let outcome = match outcomes.remove(&row) {
                    Some(o) => (o.status, o.errors),
                    None => {
                        if !cancelled {
                            tracing::error!(row, "row without an outcome in a finished import");
                        }
                        missing.push(RowOutcome {
                            row,
                            email: String::new(),
                            status: RowStatus::NotProcessed,
                            technician_id: None,
                            errors: Vec::new(),
                        });
                        (RowStatus::NotProcessed, Vec::new())
                    }
                };
                let cells = without_hash(record.cells, layout, columns);
                rows.push((cells, outcome.0, outcome.1));
            }
            let written = rows.len();
            if tx.send(rows).await.is_err() {
                break; // the writer failed; its error is reported below
            }
            tracing::debug!(rows = written, "result rows handed to the writer");
            if !missing.is_empty() {
                ctx.db.record_outcomes(id, &missing).await?;
            }
            if !ctx
                .db
                .renew_import(id, &ctx.worker_id, ctx.lease_ms())
                .await?
            {
                return Ok(false);
            }
        }
        // Dropping `tx` here ends the writer's input.
        Ok::<_, StepError>(true)
    };
    let (cancelled, still_ours) = tokio::try_join!(fetch_stage, write_stage)?;
    let Some(cancelled) = cancelled.filter(|_| still_ours) else {
        return Ok(()); // stopped: lease lost, or given back at shutdown
    };
    let writer = writer
        .await
        .map_err(|e| StepError::Internal(e.to_string()))?
        .map_err(|e| StepError::Internal(format!("result spreadsheet: {e}")))?;

    let Some(import) = ctx.db.load_import(id).await? else {
        return Ok(());
    };
    let c = import.counts;
    let summary = Summary {
        total: import.total_rows.unwrap_or(0).max(0) as u64,
        created: c.created as u64,
        updated: c.updated as u64,
        skipped: c.skipped as u64,
        valid: c.valid as u64,
        failed: c.failed as u64,
        not_processed: c.not_processed as u64,
        unchanged: c.unchanged as u64,
        disabled: c.disabled as u64,
        notes: vec![
            ("File".into(), import.file_name.clone()),
            ("Import".into(), id.to_string()),
            (
                "Dry run".into(),
                if import.dry_run { "Yes" } else { "No" }.into(),
            ),
        ],
    };
    {
        let path = result_path.clone();
        tokio::task::spawn_blocking(move || writer.finish(&summary))
            .await
            .map_err(|e| StepError::Internal(e.to_string()))?
            .map_err(|e| StepError::Internal(format!("result spreadsheet: {e}")))?;
        ctx.store
            .put_file(&StorageKey::Result { import: id.clone() }, &path)
            .await?;
    }
    let status = if cancelled {
        ImportStatus::Cancelled
    } else {
        ImportStatus::Completed
    };
    if ctx.db.finish_import(id, &ctx.worker_id, status).await? {
        tracing::info!(
            status = status.as_str(),
            created = c.created,
            failed = c.failed,
            "import finished"
        );
        purge(ctx, id, import.chunk_count.unwrap_or(0)).await;
    }
    Ok(())
}

/// One chunk's records and outcomes, ready to be written.
struct Fetched {
    records: Vec<Record>,
    outcomes: HashMap<i64, RowOutcome>,
    /// A cancel was seen by the time this chunk was read: rows without an
    /// outcome are then expected (`not_processed`), not a defect.
    cancelled: bool,
}

/// Waits until chunk `chunk_no` is done (the lease keeper renews the import's lease
/// meanwhile). A cancel closes the chunks still open, which makes them done: their
/// rows without an outcome become `not_processed`. Returns false when this finalize
/// stops: its lease was lost, or the process is shutting down (the lease is then
/// given back, uncounted, and the job sent again for another worker), or the
/// import failed as a whole meanwhile.
async fn wait_for_chunk(
    ctx: &Context,
    id: &ImportId,
    chunk_no: i64,
    cancelled: &mut bool,
) -> Result<bool, StepError> {
    loop {
        let progress = ctx.db.chunk_progress(id, chunk_no, &ctx.worker_id).await?;
        if !progress.import_running || !progress.ours {
            // Failed as a whole meanwhile (no result to write), or another worker
            // holds finalize now.
            return Ok(false);
        }
        if progress.cancel_requested && !*cancelled {
            ctx.db.close_chunks(id).await?;
            *cancelled = true;
            continue;
        }
        if progress.done {
            return Ok(true);
        }
        if ctx.shutdown.is_cancelled() {
            tracing::info!("shutting down; giving finalize back");
            ctx.db.release_import(id, &ctx.worker_id, true).await?;
            ctx.queue
                .enqueue(Job::FinalizeImport {
                    import_id: id.clone(),
                })
                .await?;
            return Ok(false);
        }
        tokio::time::sleep(FOLLOW_EVERY).await;
    }
}

/// Deletes the upload and chunk objects. A failure here is retried by the
/// reconciler, which sweeps finished imports whose inputs are not yet purged.
pub(super) async fn purge(ctx: &Context, id: &ImportId, chunks: i64) {
    let done = async {
        ctx.store.delete_inputs(id, chunks).await?;
        ctx.db.mark_purged(id).await?;
        Ok::<_, StepError>(())
    };
    if let Err(e) = done.await {
        tracing::warn!(error = %e, "could not purge the import's inputs yet");
    }
}
