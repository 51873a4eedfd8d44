//! Imports: their statuses, options, counters and per-row outcomes.

use super::{AdminId, FieldError, Format, GroupId, ImportId, Layout, OrgId, TechnicianId};
use serde::{Deserialize, Serialize};

/// Where an import is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImportStatus {
    Queued,
    Running,
    Completed,
    Failed,
    Cancelled,
    /// A sync run stopped by a safety valve before changing anything: a master
    /// approves or cancels it. Stored as `queued` with `awaiting_approval`.
    NeedsApproval,
}

impl ImportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportStatus::Queued => "queued",
            ImportStatus::Running => "running",
            ImportStatus::Completed => "completed",
            ImportStatus::Failed => "failed",
            ImportStatus::Cancelled => "cancelled",
            ImportStatus::NeedsApproval => "needs_approval",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "queued" => Some(ImportStatus::Queued),
            "running" => Some(ImportStatus::Running),
            "completed" => Some(ImportStatus::Completed),
            "failed" => Some(ImportStatus::Failed),
            "cancelled" => Some(ImportStatus::Cancelled),
            "needs_approval" => Some(ImportStatus::NeedsApproval),
            _ => None,
        }
    }

    pub fn is_finished(self) -> bool {
        matches!(
            self,
            ImportStatus::Completed | ImportStatus::Failed | ImportStatus::Cancelled
        )
    }
}

/// What happened to one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowStatus {
    Created,
    Updated,
    Skipped,
    Failed,
    Valid,
    NotProcessed,
    /// Sync: the member is in Roster as the directory has it.
    Unchanged,
    /// Sync: disabled because it left the directory group or is disabled there.
    Disabled,
}

impl RowStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RowStatus::Created => "created",
            RowStatus::Updated => "updated",
            RowStatus::Skipped => "skipped",
            RowStatus::Failed => "failed",
            RowStatus::Valid => "valid",
            RowStatus::NotProcessed => "not_processed",
            RowStatus::Unchanged => "unchanged",
            RowStatus::Disabled => "disabled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "created" => Some(RowStatus::Created),
            "updated" => Some(RowStatus::Updated),
            "skipped" => Some(RowStatus::Skipped),
            "failed" => Some(RowStatus::Failed),
            "valid" => Some(RowStatus::Valid),
            "not_processed" => Some(RowStatus::NotProcessed),
            "unchanged" => Some(RowStatus::Unchanged),
            "disabled" => Some(RowStatus::Disabled),
            _ => None,
        }
    }
}

/// What a row whose email already exists does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OnExisting {
    #[default]
    Fail,
    Skip,
    Update,
}

impl OnExisting {
    pub fn as_str(self) -> &'static str {
        match self {
            OnExisting::Fail => "fail",
            OnExisting::Skip => "skip",
            OnExisting::Update => "update",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "fail" => Some(OnExisting::Fail),
            "skip" => Some(OnExisting::Skip),
            "update" => Some(OnExisting::Update),
            _ => None,
        }
    }
}

/// What an import reads: an uploaded file, or a directory's snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ImportKind {
    #[default]
    File,
    Sync,
}

impl ImportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::File => "file",
            ImportKind::Sync => "sync",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "file" => Some(ImportKind::File),
            "sync" => Some(ImportKind::Sync),
            _ => None,
        }
    }
}

/// An import as stored.
#[derive(Debug, Clone)]
pub struct ImportRecord {
    pub id: ImportId,
    pub kind: ImportKind,
    /// The sync source of a `kind = sync` import.
    pub sync_source_id: Option<i64>,
    /// A sync run a master approved past the safety valves.
    pub approved: bool,
    pub org_id: OrgId,
    pub admin_id: AdminId,
    pub status: ImportStatus,
    pub file_name: String,
    pub format: Format,
    pub layout: Option<Layout>,
    pub header: Option<Vec<String>>,
    pub group_id: Option<GroupId>,
    pub dry_run: bool,
    pub on_existing: OnExisting,
    pub upload_bytes: i64,
    pub total_rows: Option<i64>,
    pub counts: Counts,
    pub chunk_count: Option<i64>,
    pub chunks_done: i64,
    pub error: Option<(String, String)>,
    pub has_result: bool,
    pub files_purged: bool,
    pub cancel_requested: bool,
    /// The organization had no technicians when the plan was saved: with
    /// `on_existing = fail`, batches skip the existing-email lookup (migration 0004).
    pub directory_empty_at_plan: bool,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

/// Row counts by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub created: i64,
    pub updated: i64,
    pub skipped: i64,
    pub valid: i64,
    pub failed: i64,
    pub not_processed: i64,
    pub unchanged: i64,
    pub disabled: i64,
}

impl Counts {
    /// The counters' names, in the order of [`Counts::values`]: each is a
    /// [`RowStatus`]'s word and, with `_rows`, a column of `imports` and
    /// `import_chunks`.
    pub const NAMES: [&'static str; 8] = [
        "created",
        "updated",
        "skipped",
        "valid",
        "failed",
        "not_processed",
        "unchanged",
        "disabled",
    ];

    /// The counters in the order of [`Counts::NAMES`].
    pub fn values(&self) -> [i64; 8] {
        [
            self.created,
            self.updated,
            self.skipped,
            self.valid,
            self.failed,
            self.not_processed,
            self.unchanged,
            self.disabled,
        ]
    }

    /// Counters given in the order of [`Counts::NAMES`].
    pub fn from_values(
        [
            created,
            updated,
            skipped,
            valid,
            failed,
            not_processed,
            unchanged,
            disabled,
        ]: [i64; 8],
    ) -> Self {
        Self {
            created,
            updated,
            skipped,
            valid,
            failed,
            not_processed,
            unchanged,
            disabled,
        }
    }

    pub fn add(&mut self, status: RowStatus) {
        match status {
            RowStatus::Created => self.created += 1,
            RowStatus::Updated => self.updated += 1,
            RowStatus::Skipped => self.skipped += 1,
            RowStatus::Valid => self.valid += 1,
            RowStatus::Failed => self.failed += 1,
            RowStatus::NotProcessed => self.not_processed += 1,
            RowStatus::Unchanged => self.unchanged += 1,
            RowStatus::Disabled => self.disabled += 1,
        }
    }

    /// The counts of `outcomes`.
    pub fn of(outcomes: &[RowOutcome]) -> Self {
        let mut counts = Self::default();
        for o in outcomes {
            counts.add(o.status);
        }
        counts
    }

    pub fn processed(&self) -> i64 {
        self.values().iter().sum()
    }
}

/// What a new import is registered with.
#[derive(Debug, Clone)]
pub struct NewImport {
    pub id: ImportId,
    pub org_id: OrgId,
    pub admin_id: AdminId,
    pub file_name: String,
    pub format: Format,
    pub group_id: Option<GroupId>,
    pub dry_run: bool,
    pub on_existing: OnExisting,
    pub upload_bytes: i64,
    pub idempotency_key: Option<String>,
    pub kind: ImportKind,
    pub sync_source_id: Option<i64>,
}

/// One recorded row outcome.
#[derive(Debug, Clone)]
pub struct RowOutcome {
    pub row: i64,
    pub email: String,
    pub status: RowStatus,
    pub technician_id: Option<TechnicianId>,
    pub errors: Vec<FieldError>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_counter_is_named_by_the_status_it_counts() {
        for (i, name) in Counts::NAMES.iter().enumerate() {
            let status = RowStatus::parse(name).expect("a row status");
            let mut counts = Counts::default();
            counts.add(status);
            let mut expected = [0; 8];
            expected[i] = 1;
            assert_eq!(counts.values(), expected, "{name}");
            assert_eq!(Counts::from_values(expected), counts);
        }
    }
}
