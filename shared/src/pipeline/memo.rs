//! The strength memos of the imports this process works on: one per import,
//! shared by its chunks, so that a password is judged once per import and
//! process (`validate/strength.rs`). Only the latest few imports keep theirs.

use crate::model::ImportId;
use crate::validate::StrengthMemo;
use std::sync::{Arc, Mutex, OnceLock};

/// How many imports' memos are kept at once (the oldest is dropped).
const KEPT: usize = 4;

/// The kept memos, the most recently used last.
type Memos = Vec<(ImportId, Arc<StrengthMemo>)>;

/// The memo of import `id`, made on first use.
pub(super) fn strength_memo(id: &ImportId) -> Arc<StrengthMemo> {
    static MEMOS: OnceLock<Mutex<Memos>> = OnceLock::new();
    let mut memos = MEMOS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(at) = memos.iter().position(|(import, _)| import == id) {
        let entry = memos.remove(at);
        let memo = entry.1.clone();
        memos.push(entry);
        return memo;
    }
    if memos.len() >= KEPT {
        memos.remove(0);
    }
    let memo = Arc::new(StrengthMemo::new());
    memos.push((id.clone(), memo.clone()));
    memo
}
