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
    /// A hash of a random password with the service's scheme: what a sign-in
    /// with an unknown email is verified against, to take as long as a real one.
    dummy_hash: Arc<tokio::sync::OnceCell<String>>,
}

impl AppState {
    pub fn new(ctx: Context) -> Self {
        Self {
            ctx,
            rates: Arc::default(),
            feeds: Arc::default(),
            dummy_hash: Arc::default(),
        }
    }

    /// The dummy password hash, made once (on a blocking thread) at first use.
    pub async fn dummy_password_hash(&self) -> Result<String, crate::error::ApiError> {
        let scheme = self.ctx.config.password_hash.clone();
        self.dummy_hash
            .get_or_try_init(|| async move {
                tokio::task::spawn_blocking(move || {
                    let random = roster_shared::db::new_token();
                    scheme.hash(&roster_shared::password::Password::new(random))
                })
                .await
                .map_err(crate::error::ApiError::internal)
            })
            .await
            .cloned()
    }
}
