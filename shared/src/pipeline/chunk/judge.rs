//! Judging a batch of a chunk against the directory: each row validated,
//! then held to the groups that exist, the importer's scope and the emails
//! the organization has. What is left is to hash and write.

use super::{Directory, Judged, Pending, split_owned};
use crate::db::Existing;
use crate::model::RowStatus;
use crate::model::{FieldError, ImportRecord, LicenseSeats, OnExisting, Record, RowOutcome};
use crate::pipeline::{Context, StepError};
use crate::validate::NewTechnician;
use std::collections::HashMap;

/// Validates a batch (in slices on the blocking pool: zxcvbn costs a fraction of a
/// millisecond a row, too much for the runtime threads that renew leases), then
/// checks groups, scope and the emails the organization has already.
pub(super) async fn judge(
    ctx: &Context,
    import: &ImportRecord,
    directory: &Directory,
    batch: Vec<Record>,
) -> Result<Judged, StepError> {
    let slice_rows = batch.len().div_ceil(ctx.config.worker_concurrency.max(1));
    let slices: Vec<_> = split_owned(batch, slice_rows)
        .into_iter()
        .map(|slice| {
            let rules = directory.rules.clone();
            tokio::task::spawn_blocking(move || {
                slice
                    .into_iter()
                    .map(|record| match NewTechnician::parse(&record, &rules) {
                        Ok(t) => Ok((i64::from(record.row), t)),
                        Err(errors) => Err(failed(&record, errors)),
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    let mut valid = Vec::new();
    for slice in slices {
        let judged = slice
            .await
            .map_err(|e| StepError::Internal(format!("validation stopped: {e}")))?;
        for row in judged {
            match row {
                Err(outcome) => outcomes.push(outcome),
                Ok((row, t)) if !directory.groups.contains(&t.group_id) => {
                    let message = format!("group {} does not exist", t.group_id);
                    let error = FieldError::new("Tech Group ID", "unknown_group", message);
                    outcomes.push(failed_row(row, t.email, error));
                }
                Ok((row, t)) if !directory.scope.allows(t.group_id) => {
                    let message = format!("you may not add technicians to group {}", t.group_id);
                    let error = FieldError::new("Tech Group ID", "group_not_permitted", message);
                    outcomes.push(failed_row(row, t.email, error));
                }
                Ok((row, t)) => valid.push((row, t)),
            }
        }
    }

    let existing: HashMap<String, Existing> = if directory.look_up_emails {
        let keys: Vec<String> = valid.iter().map(|(_, t)| t.email_key.clone()).collect();
        ctx.db
            .existing_emails(import.org_id, &keys)
            .await?
            .into_iter()
            .collect()
    } else {
        HashMap::new()
    };
    let mut pending = Vec::new();
    for (row, t) in valid {
        let found = existing.get(&t.email_key).copied();
        match (found, import.on_existing) {
            // A technician outside the importer's scope is not its to update, skip
            // or even confirm: to this import its email is simply taken, and the
            // row does not say where the technician lives.
            (Some(e), _) if !directory.scope.allows(e.group_id) => {
                let error = FieldError::email_taken(&t.email);
                outcomes.push(failed_row(row, t.email, error));
            }
            (Some(_), OnExisting::Fail) => {
                let error = FieldError::email_taken(&t.email);
                outcomes.push(failed_row(row, t.email, error));
            }
            (Some(tech), OnExisting::Skip) => outcomes.push(RowOutcome {
                row,
                email: t.email,
                status: RowStatus::Skipped,
                technician_id: Some(tech.id),
                errors: vec![FieldError::new("Email", "exists", "already exists")],
            }),
            _ if import.dry_run => outcomes.push(RowOutcome {
                row,
                email: t.email,
                status: RowStatus::Valid,
                technician_id: found.map(|e| e.id),
                errors: Vec::new(),
            }),
            (found, _) => pending.push(Pending {
                row,
                existing: found,
                technician: t,
            }),
        }
    }
    Ok(Judged { outcomes, pending })
}

/// Whether a batch must look up which of its emails the organization has. Not
/// when, at plan time, the organization had no technicians and no other import
/// under way (`directory_empty_at_plan`), a taken email is to fail, and seats
/// are unlimited: plan failed every repeated email of the file, so only a race
/// (another import started later, or an edit) can take one of these emails,
/// and the insert turns that row into `email_taken`, the outcome the lookup
/// would give. It saves an index probe a row, most of a first, large import
/// into a new organization; the price is hashing the rows such a race took. A
/// dry run inserts nothing, so it always looks; with limited seats a taken
/// email must not be charged a seat before the insert skips it.
pub(super) fn looks_up_emails(
    dry_run: bool,
    directory_empty_at_plan: bool,
    on_existing: OnExisting,
    seats: &LicenseSeats,
) -> bool {
    dry_run || !directory_empty_at_plan || on_existing != OnExisting::Fail || !seats.unlimited()
}

fn failed_row(row: i64, email: String, error: FieldError) -> RowOutcome {
    RowOutcome {
        row,
        email,
        status: RowStatus::Failed,
        technician_id: None,
        errors: vec![error],
    }
}

pub(super) fn failed(record: &Record, errors: Vec<FieldError>) -> RowOutcome {
    RowOutcome {
        row: i64::from(record.row),
        email: record_email(record),
        status: RowStatus::Failed,
        technician_id: None,
        errors,
    }
}

/// The Email cell of a record, whatever its layout (full: column 3, short: column 2).
fn record_email(record: &Record) -> String {
    let at = if record.cells.len() == 3 { 1 } else { 2 };
    record.cells.get(at).cloned().unwrap_or_default()
}
