//! What every handler shares.

use roster_shared::pipeline::Context;

/// The API's state: the same context the pipeline uses.
#[derive(Clone)]
pub struct AppState {
    pub ctx: Context,
}
