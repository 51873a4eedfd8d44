//! Finalize: stream every chunk's records and their outcomes into the result
//! spreadsheet (constant memory), store it, finish the import, then delete the
//! upload and the chunk objects: they hold plaintext passwords. A cancelled
//! import's rows without an outcome are recorded as `not_processed` here.

use super::plan::read_chunk_file;
use super::{Context, StepError, too_many_attempts};
use crate::db::{RowOutcome, Step};
use crate::model::{FULL_COLUMNS, ImportId, ImportStatus, Layout, Record, RowStatus};
use crate::report::{ResultWriter, Summary, result_text};
use crate::storage::StorageKey;
use std::collections::HashMap;
use tokio::sync::mpsc;

pub(super) async fn finalize(ctx: &Context, id: &ImportId) -> Result<(), StepError> {
    let Some(attempts) = ctx
        .db
        .claim_import(id, &ctx.worker_id, ctx.lease_ms(), Step::Finalize)
        .await?
    else {
        return Ok(());
    };
    if too_many_attempts(ctx, id, attempts).await? {
        return Ok(());
    }
    let Some(import) = ctx.db.load_import(id).await? else {
        return Ok(());
    };
    let cancelled = import.cancel_requested;
    if cancelled {
        ctx.db.close_chunks(id).await?;
    }
    let layout = import.layout.unwrap_or(Layout::Full);
    let header = import
        .header
        .clone()
        .unwrap_or_else(|| FULL_COLUMNS.iter().map(|c| c.to_string()).collect());
    let dir = ctx.scratch_dir()?;
    let result_path = dir.path().join("result.xlsx");

    // The spreadsheet is written on a blocking thread fed row by row.
    let (tx, mut rx) = mpsc::channel::<(Vec<String>, String)>(1024);
    let writer = {
        let path = result_path.clone();
        tokio::task::spawn_blocking(move || -> Result<ResultWriter, String> {
            let mut writer = ResultWriter::create(&path, &header, layout.password_index())
                .map_err(|e| e.to_string())?;
            while let Some((cells, result)) = rx.blocking_recv() {
                writer
                    .write_row(&cells, &result)
                    .map_err(|e| e.to_string())?;
            }
            Ok(writer)
        })
    };

    // Chunk k+1 is downloaded and its outcomes read while chunk k's rows are
    // written: the spreadsheet writer, the object store and the database overlap.
    let chunks = ctx.db.chunks(id).await?;
    let (to_write, mut fetched) = mpsc::channel::<(Vec<Record>, HashMap<i64, RowOutcome>)>(1);
    let scratch = dir.path().to_path_buf();
    let fetch_stage = async move {
        for chunk in chunks {
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
            if to_write.send((records, outcomes)).await.is_err() {
                break;
            }
        }
        Ok::<_, StepError>(())
    };
    let write_stage = async move {
        while let Some((records, mut outcomes)) = fetched.recv().await {
            let mut missing = Vec::new();
            for record in records {
                let row = i64::from(record.row);
                let text = match outcomes.remove(&row) {
                    Some(o) => result_text(o.status, &o.errors),
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
                        result_text(RowStatus::NotProcessed, &[])
                    }
                };
                if tx.send((record.cells, text)).await.is_err() {
                    break; // the writer failed; its error is reported below
                }
            }
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
    let ((), still_ours) = tokio::try_join!(fetch_stage, write_stage)?;
    if !still_ours {
        return Ok(());
    }
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
