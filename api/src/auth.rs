//! Who is calling: a bearer token (scripts) or a session cookie (people, the
//! console). Only hashes of either are stored, and neither is ever logged.
//!
//! A request authenticated by the cookie that changes anything (POST, PATCH,
//! PUT, DELETE) must carry the session's CSRF token in `X-CSRF-Token`; the
//! cookie alone is not enough, whatever `SameSite` a browser honours.

use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use roster_shared::model::{Admin, AdminId, GroupId, Role, Scope, ServiceToken, SignedIn};
use roster_shared::time::now_ms;

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "roster_session";

/// The header that carries the session's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

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
    pub fn own_imports(&self) -> Option<AdminId> {
        self.0.own_imports()
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // A request that names a token is judged by it alone.
        if let Some(token) = bearer(&parts.headers) {
            let token = token?;
            let db = &state.ctx.db;
            if let Some(admin) = db.admin_by_token(token).await? {
                return Ok(Caller(admin));
            }
            if db.service_token(token).await?.is_some() {
                return Err(service_token_only());
            }
            return Err(ApiError::unauthorized());
        }
        let session = Session::from_request_parts(parts, state).await?;
        Ok(Caller(session.signed_in.admin))
    }
}

/// The bearer token of a request: `None` without an `Authorization` header,
/// an error (401) when the header is not a bearer token.
pub fn bearer(headers: &HeaderMap) -> Option<Result<&str, ApiError>> {
    let header = headers.get(AUTHORIZATION)?;
    Some(
        header
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(ApiError::unauthorized),
    )
}

/// The answer to a service token on a route that is not a sync or SCIM route.
fn service_token_only() -> ApiError {
    ApiError::forbidden("a service token may call only the sync and SCIM routes")
}

/// A request authenticated by a live service token (API.md v1.1, "Directory
/// synchronization"): the principal of the sync and SCIM routes. An
/// administrator's token or a session is refused there (403): those routes
/// act as the directory, not as a person.
pub struct ServiceCaller(pub ServiceToken);

impl FromRequestParts<AppState> for ServiceCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(&parts.headers).ok_or_else(ApiError::unauthorized)??;
        let db = &state.ctx.db;
        if let Some(service) = db.service_token(token).await? {
            return Ok(ServiceCaller(service));
        }
        if db.admin_by_token(token).await?.is_some() {
            return Err(ApiError::forbidden(
                "this route needs a service token (POST /v1/sync/tokens)",
            ));
        }
        Err(ApiError::unauthorized())
    }
}

/// Who may send a directory snapshot or read the sync log: the directory's
/// service token (what `roster-adsync` holds), or an administrator (a bearer
/// token or the console's session) doing the same by hand.
pub enum SyncCaller {
    Admin(Admin),
    Service(ServiceToken),
}

impl SyncCaller {
    /// The administrator a snapshot is recorded as sent by, whose scope its
    /// run has: the caller itself, or the master who created the service
    /// token. A token whose creator is gone sends nothing (403).
    pub async fn sender(&self, state: &AppState) -> Result<Admin, ApiError> {
        match self {
            SyncCaller::Admin(admin) => Ok(admin.clone()),
            SyncCaller::Service(token) => {
                let creator = match token.created_by {
                    Some(id) => state.ctx.db.admin(token.org_id, id).await?,
                    None => None,
                };
                creator.ok_or_else(|| {
                    ApiError::forbidden(
                        "the administrator who created this service token no longer exists; a master can create a new one",
                    )
                })
            }
        }
    }

    /// Whether the caller may sync into `group`: within the sender's scope
    /// and, for a token that names a technician group, that group only.
    pub fn allows(&self, sender_scope: &Scope, group: GroupId) -> bool {
        let token_group = match self {
            SyncCaller::Service(token) => token.group_id,
            SyncCaller::Admin(_) => None,
        };
        sender_scope.allows(group) && token_group.is_none_or(|g| g == group)
    }
}

impl FromRequestParts<AppState> for SyncCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(Ok(token)) = bearer(&parts.headers)
            && let Some(service) = state.ctx.db.service_token(token).await?
        {
            return Ok(SyncCaller::Service(service));
        }
        let Caller(admin) = Caller::from_request_parts(parts, state).await?;
        Ok(SyncCaller::Admin(admin))
    }
}

/// A request authenticated by the session cookie, with its CSRF token checked
/// for changes.
pub struct Session {
    pub signed_in: SignedIn,
    /// The cookie's value (to sign out with).
    pub cookie: String,
}

impl FromRequestParts<AppState> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(Ok(token)) = bearer(&parts.headers)
            && state.ctx.db.service_token(token).await?.is_some()
        {
            return Err(service_token_only());
        }
        let cookie = session_cookie(&parts.headers).ok_or_else(ApiError::unauthorized)?;
        let signed_in = live_session(state, &cookie)
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        if changes(&parts.method) {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .map(|v| v.as_bytes())
                .unwrap_or_default();
            let expected = signed_in.csrf_token.as_bytes();
            if !bool::from(subtle::ConstantTimeEq::ct_eq(sent, expected)) {
                return Err(ApiError::new(
                    ErrorCode::Csrf,
                    "a change made with the session cookie needs the session's X-CSRF-Token header",
                ));
            }
        }
        Ok(Session { signed_in, cookie })
    }
}

/// The live session a cookie value names, its use recorded.
pub async fn live_session(state: &AppState, cookie: &str) -> Result<Option<SignedIn>, ApiError> {
    let config = &state.ctx.config;
    let now = now_ms();
    let idle = config.session_idle.as_millis() as i64;
    // Record a use at most every tenth of the idle time (and at least every minute).
    let touch = (idle / 10).min(60_000);
    Ok(state
        .ctx
        .db
        .session(cookie, now, now - idle, now - touch)
        .await?)
}

/// Methods that change something and so need the CSRF token with a cookie.
fn changes(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PATCH | Method::PUT | Method::DELETE
    )
}

/// The value of the `roster_session` cookie, if the request carries one.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim().trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, "a=1; roster_session=abc ; b=2".parse().unwrap());
        assert_eq!(session_cookie(&headers).as_deref(), Some("abc"));
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, "roster_session_x=1".parse().unwrap());
        headers.append(COOKIE, "roster_session=".parse().unwrap());
        assert_eq!(session_cookie(&headers), None);
    }
}
