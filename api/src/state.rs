//! What every handler shares.

use crate::feeds::Feeds;
use crate::progress::Rates;
use roster_shared::pipeline::Context;
use std::sync::Arc;

/// The API's state: the same context the pipeline uses, and what this process
/// keeps about the imports it is asked about.
#[derive(Clone)]
pub struct AppState {
    pub ctx: Context,
    /// Rows-per-second samples of the imports read lately.
    pub rates: Arc<Rates>,
    /// One source of changes per watched import.
    pub feeds: Arc<Feeds>,
}

impl AppState {
    pub fn new(ctx: Context) -> Self {
        Self {
            ctx,
            rates: Arc::default(),
            feeds: Arc::default(),
        }
    }
}
