//! Bearer-token authentication: the token's SHA-256 is looked up; the token
//! itself is never stored or logged.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use roster_shared::model::{Admin, Role};

/// The administrator making the request.
pub struct Caller(pub Admin);

impl Caller {
    /// Only masters may do this.
    pub fn require_master(&self) -> Result<(), ApiError> {
        match self.0.role {
            Role::Master => Ok(()),
            Role::Admin => Err(ApiError::forbidden(
                "only a master administrator may do this",
            )),
        }
    }

    /// The admin filter for imports: an admin sees only its own, a master all.
    pub fn own_imports(&self) -> Option<i64> {
        match self.0.role {
            Role::Master => None,
            Role::Admin => Some(self.0.id),
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(ApiError::unauthorized)?;
        match state.ctx.db.admin_by_token(token).await? {
            Some(admin) => Ok(Caller(admin)),
            None => Err(ApiError::unauthorized()),
        }
    }
}
