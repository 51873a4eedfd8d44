//! `/v1/session`: people sign in with email and password and get a session
//! cookie (API.md v1.1, "People sign in").
//!
//! A wrong email and a wrong password answer alike, in about the same time: an
//! unknown email still costs one password verification (against a hash of a
//! random password made with the service's scheme). Failures are counted per
//! email in the database, so every API instance throttles alike.

use crate::auth::{SESSION_COOKIE, Session};
use crate::error::{ApiError, ApiResult, ErrorCode, JsonBody};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use roster_shared::password::{HashScheme, Password};
use roster_shared::time::now_ms;
use roster_shared::validate::email_key;
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/v1/session",
        post(create_session).get(get_session).delete(delete_session),
    )
}

/// Failed sign-ins for one email within [`FAILURE_WINDOW_MS`] after which it is refused.
const FAILURE_LIMIT: i64 = 10;
/// 15 minutes.
const FAILURE_WINDOW_MS: i64 = 15 * 60 * 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    email: String,
    /// Wrapped at once: `Password` prints as `***` and cannot be serialized.
    #[serde(deserialize_with = "password")]
    password: Password,
}

fn password<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Password, D::Error> {
    Ok(Password::new(String::deserialize(d)?))
}

fn invalid_credentials() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidCredentials,
        "the email or the password is wrong",
    )
}

async fn create_session(
    State(state): State<AppState>,
    JsonBody(input): JsonBody<SignIn>,
) -> ApiResult<Response> {
    let db = &state.ctx.db;
    let key = email_key(&input.email);
    let now = now_ms();
    let since = now - FAILURE_WINDOW_MS;
    let (failures, nth) = db.sign_in_failures(&key, since, FAILURE_LIMIT).await?;
    if failures >= FAILURE_LIMIT {
        // Signing in works again once the oldest of the last ten failures is out of the window.
        let wait_ms = nth.unwrap_or(now) + FAILURE_WINDOW_MS - now;
        let retry_after = (wait_ms.max(0) + 999) / 1000;
        let mut response = ApiError::new(
            ErrorCode::RateLimited,
            "too many failed sign-ins for this email; try again later",
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after.max(1)));
        return Ok(response);
    }
    let account = db.sign_in_account(&key).await?;
    let stored = account.as_ref().and_then(|a| a.password_hash.clone());
    let dummy = state.dummy_password_hash().await?;
    let password = input.password;
    let matches = tokio::task::spawn_blocking(move || match stored {
        Some(phc) => HashScheme::verify(password.expose(), &phc),
        None => {
            // The same work as for a real account, and no match.
            let _ = HashScheme::verify(password.expose(), &dummy);
            false
        }
    })
    .await
    .map_err(ApiError::internal)?;
    let Some(account) = account.filter(|_| matches) else {
        db.record_sign_in_failure(&key, now, since).await?;
        tracing::info!("sign-in refused");
        return Err(invalid_credentials());
    };
    db.clear_sign_in_failures(&key).await?;
    let config = &state.ctx.config;
    let max = config.session_max.as_millis() as i64;
    let idle = config.session_idle.as_millis() as i64;
    let session = db
        .create_session(account.admin_id, now, now + max, now - idle)
        .await?;
    tracing::info!(admin.id = %account.admin_id, "signed in");
    let mut cookie = format!(
        "{SESSION_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        session.cookie,
        config.session_max.as_secs()
    );
    if config.secure_cookies() {
        cookie.push_str("; Secure");
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(ApiError::internal)?,
    );
    Ok(response)
}

/// Who is signed in, their organization, and the token for changes.
async fn get_session(State(state): State<AppState>, session: Session) -> ApiResult<Json<Value>> {
    let admin = &session.signed_in.admin;
    let name = state.ctx.db.org_name(admin.org_id).await?;
    Ok(Json(json!({
        "admin": admin,
        "organization": {"id": admin.org_id, "name": name},
        "csrf_token": session.signed_in.csrf_token,
    })))
}

/// Signs out: the session ends on the server, and the browser forgets the cookie.
async fn delete_session(State(state): State<AppState>, session: Session) -> ApiResult<Response> {
    state.ctx.db.delete_session(&session.cookie).await?;
    let mut cookie = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    if state.ctx.config.secure_cookies() {
        cookie.push_str("; Secure");
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(ApiError::internal)?,
    );
    Ok(response)
}
