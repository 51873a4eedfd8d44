//! Plan: stream the upload, check its header, split its records into chunk
//! objects, and record the chunks. With the default chunk size the file's
//! last two chunks' worth of rows is cut into [`TAIL_PIECES`] small chunks, so
//! that every worker stays busy to the end: a mid-size import does not end with
//! one worker hashing its last big chunk alone. Reading happens on a blocking thread that
//! hands finished chunk files to the async side, one chunk at a time, so memory
//! stays flat whatever the file's size.

use super::hashing::CHUNK_ROWS_MAX;
use super::{Context, StepError, interrupted_too_often, too_many_attempts};
use crate::db::{ChunkPlan, Step};
use crate::ingest;
use crate::model::{FieldError, FileError, Format, ImportId, Layout, Record};
use crate::queue::Job;
use crate::storage::StorageKey;
use crate::validate::email_key;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;

/// How many chunks the tail of a file (its last two chunks' worth of rows) is
/// cut into when the chunk size is the default.
pub(super) const TAIL_PIECES: usize = 16;
/// The fewest rows of a tail chunk (a chunk's fixed costs stay small beside it).
const TAIL_MIN_ROWS: usize = 25;

/// What the reading thread says.
enum Event {
    Chunk { plan: ChunkPlan, file: PathBuf },
}

/// What the reading thread ends with.
struct Outline {
    layout: Layout,
    header: Vec<String>,
    total_rows: i64,
}

pub(super) async fn plan(ctx: &Context, id: &ImportId) -> Result<(), StepError> {
    let Some(claim) = ctx
        .db
        .claim_import(id, &ctx.worker_id, ctx.lease_ms(), Step::Plan)
        .await?
    else {
        return Ok(()); // done already, or another worker holds it
    };
    if interrupted_too_often(ctx, id, claim, "plan").await?
        || too_many_attempts(ctx, id, claim.attempts).await?
    {
        return Ok(()); // failed: the reconciler deletes the upload
    }
    let Some(import) = ctx.db.load_import(id).await? else {
        return Ok(());
    };
    if import.kind == crate::model::ImportKind::Sync {
        return super::sync::plan(ctx, &import).await;
    }
    let settings = ctx.db.settings(import.org_id).await?;
    let dir = ctx.scratch_dir()?;
    let upload = dir.path().join("upload");
    ctx.store
        .get_to_file(&StorageKey::Upload { import: id.clone() }, &upload)
        .await?;

    let chunk_rows = super::hashing::chunk_rows(ctx).await;
    // A chunk size set by hand is kept as set (tests and benchmarks rely on it).
    let split_tail = ctx.config.chunk_rows.is_none();
    let (tx, mut rx) = mpsc::channel::<Event>(2);
    let reader = {
        let (format, upload, folder) = (import.format, upload.clone(), dir.path().to_owned());
        let has_group = import.group_id.is_some();
        let max_rows = settings.max_rows_per_file;
        tokio::task::spawn_blocking(move || {
            let sizes = Sizes {
                chunk_rows,
                split_tail,
                max_rows,
            };
            read_into_chunks(&upload, format, has_group, sizes, &folder, &tx)
        })
    };

    let mut chunks = Vec::new();
    while let Some(Event::Chunk { plan, file }) = rx.recv().await {
        let key = StorageKey::Chunk {
            import: id.clone(),
            chunk: plan.chunk_no,
        };
        ctx.store.put_file(&key, &file).await?;
        let _ = std::fs::remove_file(&file);
        chunks.push(plan);
        if ctx.shutdown.is_cancelled() {
            // Stopping: give the plan back uncounted, so that a graceful stop is
            // neither an attempt nor an interruption; another worker (or this
            // process, restarted) plans again from the start.
            tracing::info!("shutting down; giving the plan back");
            ctx.db.release_import(id, &ctx.worker_id, false).await?;
            ctx.queue
                .enqueue(Job::PlanImport {
                    import_id: id.clone(),
                })
                .await?;
            return Ok(());
        }
        if !ctx
            .db
            .renew_import(id, &ctx.worker_id, ctx.lease_ms())
            .await?
        {
            return Ok(()); // lost the lease: the new holder plans again
        }
    }
    let outline = reader
        .await
        .map_err(|e| StepError::Internal(format!("reading thread: {e}")))?;

    match outline {
        Ok(outline) => {
            tracing::info!(rows = outline.total_rows, chunks = chunks.len(), "planned");
            let saved = ctx
                .db
                .save_plan(
                    id,
                    &ctx.worker_id,
                    outline.layout,
                    &outline.header,
                    outline.total_rows,
                    &chunks,
                )
                .await?;
            if saved {
                super::enqueue_planned(ctx, id, &chunks).await?;
            }
            Ok(())
        }
        Err(file_error) => {
            tracing::info!(code = file_error.code(), "file rejected");
            ctx.db
                .fail_import(id, file_error.code(), &file_error.to_string())
                .await?;
            ctx.store.delete_inputs(id, chunks.len() as i64).await?;
            ctx.db.mark_purged(id).await?;
            Ok(())
        }
    }
}

/// How a file is cut into chunks.
#[derive(Clone, Copy)]
struct Sizes {
    chunk_rows: usize,
    /// Whether the last two chunks' worth of rows is cut into [`TAIL_PIECES`].
    split_tail: bool,
    max_rows: i64,
}

/// Reads every record, marks emails seen earlier in the file, and writes chunks of
/// `chunk_rows` records as JSON lines into `folder`, sending each finished one.
/// One full chunk is held back until the next is full, so that at the end the
/// tail (held and last) can be cut small ([`tail_sizes`]).
fn read_into_chunks(
    upload: &Path,
    format: Format,
    has_group: bool,
    sizes: Sizes,
    folder: &Path,
    tx: &mpsc::Sender<Event>,
) -> Result<Outline, FileError> {
    let Sizes {
        chunk_rows,
        split_tail,
        max_rows,
    } = sizes;
    if format == Format::Xlsx {
        ingest::check_xlsx(upload).map_err(|e| FileError::Unreadable(e.to_string()))?;
    }
    let mut reader = ingest::open(upload, format)?;
    let layout = reader.layout();
    let header = reader.header().to_vec();
    if layout == Layout::Short && !has_group {
        return Err(FileError::GroupRequired(
            "the short layout (Name, Email, Password) needs a global group_id".into(),
        ));
    }
    let email_at = layout.email_index();
    // Rows of `buffer` with a password to hash.
    let mut hashing: usize = 0;
    // First row of each email, keyed by a 128-bit digest: flat in the email's length.
    // A byte array, not a u128: 20-byte entries instead of 32 (u128 is 16-aligned).
    let mut first_seen: HashMap<[u8; 16], u32> = HashMap::new();
    let mut buffer: Vec<Record> = Vec::with_capacity(chunk_rows);
    let mut held: Vec<Record> = Vec::new();
    let mut total: i64 = 0;
    let mut chunk_no: i64 = 0;
    for record in &mut reader {
        let mut record = record?;
        total += 1;
        if total > max_rows {
            return Err(FileError::TooManyRows(format!(
                "the file has more than {max_rows} rows, the organization's limit per file"
            )));
        }
        let email = record.cells.get(email_at).map(String::as_str).unwrap_or("");
        if !email.is_empty() {
            let digest = Sha256::digest(email_key(email).as_bytes());
            let key: [u8; 16] = digest[..16].try_into().unwrap_or_default();
            match first_seen.get(&key) {
                Some(first) => record.errors.push(FieldError::new(
                    "Email",
                    "duplicate_in_file",
                    format!("'{email}' already appears in row {first}"),
                )),
                None => {
                    first_seen.insert(key, record.row);
                }
            }
        }
        if record.hashes_password(layout) {
            hashing += 1;
        }
        buffer.push(record);
        // Chunks are sized by their hashing: `chunk_rows` rows with a password
        // to hash, or at most CHUNK_ROWS_MAX rows when fewer hash (pre-hashed
        // rows of a migration hash none, and fewer chunks cost fewer claims,
        // fetches and hand-offs). A size set by hand is exact.
        let full = if split_tail {
            hashing == chunk_rows || buffer.len() == CHUNK_ROWS_MAX
        } else {
            buffer.len() == chunk_rows
        };
        if full {
            hashing = 0;
            if !split_tail {
                send_chunk(folder, chunk_no, &mut buffer, tx)?;
                chunk_no += 1;
                continue;
            }
            if !held.is_empty() {
                send_chunk(folder, chunk_no, &mut held, tx)?;
                chunk_no += 1;
            }
            std::mem::swap(&mut held, &mut buffer);
        }
    }
    held.append(&mut buffer);
    let tail = if split_tail {
        tail_sizes(held.len())
    } else {
        vec![held.len()]
    };
    let mut rest = held.into_iter();
    for size in tail.into_iter().filter(|size| *size > 0) {
        let mut piece: Vec<Record> = rest.by_ref().take(size).collect();
        send_chunk(folder, chunk_no, &mut piece, tx)?;
        chunk_no += 1;
    }
    if total == 0 {
        return Err(FileError::EmptyFile(
            "the file has a header but no technician rows".into(),
        ));
    }
    Ok(Outline {
        layout,
        header,
        total_rows: total,
    })
}

/// The sizes of the chunks `rows` tail rows are cut into: [`TAIL_PIECES`] as
/// even as can be, none under [`TAIL_MIN_ROWS`] (fewer pieces then).
fn tail_sizes(rows: usize) -> Vec<usize> {
    let pieces = (rows / TAIL_MIN_ROWS).clamp(1, TAIL_PIECES);
    let (base, extra) = (rows / pieces, rows % pieces);
    (0..pieces).map(|i| base + usize::from(i < extra)).collect()
}

fn send_chunk(
    folder: &Path,
    chunk_no: i64,
    buffer: &mut Vec<Record>,
    tx: &mpsc::Sender<Event>,
) -> Result<(), FileError> {
    let file = folder.join(format!("chunk-{chunk_no}.jsonl"));
    let io = |e: std::io::Error| FileError::Unreadable(format!("could not stage a chunk: {e}"));
    let mut out = std::io::BufWriter::new(std::fs::File::create(&file).map_err(io)?);
    for record in buffer.iter() {
        serde_json::to_writer(&mut out, record)
            .map_err(|e| FileError::Unreadable(e.to_string()))?;
        out.write_all(b"\n").map_err(io)?;
    }
    out.flush().map_err(io)?;
    let plan = ChunkPlan {
        chunk_no,
        first_row: i64::from(buffer.first().map_or(0, |r| r.row)),
        last_row: i64::from(buffer.last().map_or(0, |r| r.row)),
        row_count: buffer.len() as i64,
    };
    buffer.clear();
    // The async side is gone only if the step was abandoned; stop reading then.
    tx.blocking_send(Event::Chunk { plan, file })
        .map_err(|_| FileError::Unreadable("planning was interrupted".into()))
}

/// Reads a chunk object's records back (JSON lines).
pub(super) fn read_chunk_file(path: &Path) -> Result<Vec<Record>, StepError> {
    use std::io::BufRead;
    let file = std::fs::File::open(path).map_err(|e| StepError::Internal(e.to_string()))?;
    let mut records = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(|e| StepError::Internal(e.to_string()))?;
        if line.is_empty() {
            continue;
        }
        records.push(
            serde_json::from_str(&line)
                .map_err(|e| StepError::Internal(format!("chunk file: {e}")))?,
        );
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::{TAIL_PIECES, tail_sizes};

    #[test]
    fn the_tail_is_cut_into_even_pieces_of_at_least_the_minimum() {
        // 3,000 rows at OWASP cost (2,000-row chunks): 16 chunks, not 2.
        let sizes = tail_sizes(3000);
        assert_eq!(sizes.len(), TAIL_PIECES);
        assert_eq!(sizes.iter().sum::<usize>(), 3000);
        assert!(sizes.iter().all(|s| *s == 187 || *s == 188), "{sizes:?}");
        assert_eq!(tail_sizes(60), vec![30, 30]);
        assert_eq!(tail_sizes(7), vec![7]);
        assert_eq!(tail_sizes(0), vec![0]);
    }
}
