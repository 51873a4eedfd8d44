//! SCIM 2.0 at `/scim/v2` for Okta and Microsoft Entra ID (API.md v1.1, "SCIM
//! 2.0"; RFC 7643 and 7644). The caller is a service token that names a
//! technician group: its Users are the technicians provisioned into that group
//! over SCIM, and every lookup is per (organization, group). Writes go through
//! the rules of `POST /v1/technicians` and `PATCH /v1/technicians/{id}`:
//! validation, the password policy, seats and scope. Nothing is ever deleted.
//! Every answer, errors included, is `application/scim+json`.

mod discovery;
pub mod error;
pub mod filter;
pub mod patch;
pub mod user;
mod users;
mod write;

use crate::auth::bearer;
use crate::state::AppState;
use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{any, get, post};
use error::ScimError;
use roster_shared::model::{GroupId, OrgId};

pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// Most resources in one page (and the default `count`).
pub const MAX_COUNT: i64 = 1000;
/// Largest request body: a User is a few hundred bytes.
pub const MAX_BODY: usize = 64 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/scim/v2/ServiceProviderConfig",
            get(discovery::service_provider_config),
        )
        .route("/scim/v2/ResourceTypes", get(discovery::resource_types))
        .route("/scim/v2/ResourceTypes/{id}", get(discovery::resource_type))
        .route("/scim/v2/Schemas", get(discovery::schemas))
        .route("/scim/v2/Schemas/{id}", get(discovery::schema))
        .route(
            "/scim/v2/Users",
            get(users::list_users).post(users::create_user),
        )
        .route("/scim/v2/Users/.search", post(users::search_users))
        .route(
            "/scim/v2/Users/{id}",
            get(users::get_user)
                .put(users::replace_user)
                .patch(users::patch_user)
                .delete(users::delete_user),
        )
        // POST /.search searches every resource type; Users are the only one.
        .route("/scim/v2/.search", post(users::search_users))
        // Any other path under /scim/v2 is SCIM's 404, in its error form.
        .route("/scim/v2", any(not_found))
        .route("/scim/v2/{*rest}", any(not_found))
}

async fn not_found() -> ScimError {
    ScimError::not_found()
}

/// The service token of a SCIM request and the group it provisions into.
pub struct ScimCaller {
    pub org: OrgId,
    pub group: GroupId,
}

impl FromRequestParts<AppState> for ScimCaller {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ScimError> {
        let unauthorized = || {
            ScimError::new(
                StatusCode::UNAUTHORIZED,
                None,
                "a service token is required as a bearer token",
            )
        };
        let token = bearer(&parts.headers)
            .ok_or_else(unauthorized)?
            .map_err(|_| unauthorized())?;
        let db = &state.ctx.db;
        match db.service_token(token).await? {
            Some(service) => match service.group_id {
                Some(group) => Ok(Self {
                    org: service.org_id,
                    group,
                }),
                None => Err(ScimError::new(
                    StatusCode::FORBIDDEN,
                    None,
                    "this service token names no technician group, so it cannot use SCIM",
                )),
            },
            None if db.admin_by_token(token).await?.is_some() => Err(ScimError::new(
                StatusCode::FORBIDDEN,
                None,
                "SCIM needs a service token (POST /v1/sync/tokens with a group_id), not an administrator's",
            )),
            None => Err(unauthorized()),
        }
    }
}

/// This service's `/scim/v2` URL, for `meta.location`: `ROSTER_PUBLIC_URL`'s
/// scheme is not known here, so the request's own host over http(s) as sent.
pub fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .filter(|p| *p == "https")
        .unwrap_or("http");
    format!("{scheme}://{host}/scim/v2")
}

/// A JSON request body of at most [`MAX_BODY`] bytes.
pub async fn read_body(body: axum::body::Body) -> Result<serde_json::Value, ScimError> {
    let bytes = axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        ScimError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
            format!("a request body is at most {MAX_BODY} bytes"),
        )
    })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ScimError::bad("invalidSyntax", format!("the body is not JSON: {e}")))
}
