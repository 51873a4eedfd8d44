//! The web console at `/` (API.md v1.1, "The console"): one HTML shell and a
//! little plain JavaScript and CSS, all inside the binary. The pages talk to
//! the public API only, with the session cookie and `X-CSRF-Token`, so the
//! console can show nothing its user may not see. The shell says whether the
//! request carries a live session, so the page never has to ask and fail.
//! These are not API routes: they are not in `/openapi.json`.

use crate::auth::{live_session, session_cookie};
use crate::state::AppState;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

const INDEX: &str = include_str!("index.html");
const APP_JS: &str = include_str!("app.js");
const APP_CSS: &str = include_str!("app.css");

/// Only this origin's own files; no inline script or style, no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The console's pages (each serves the shell; the script draws the page) and assets.
pub fn router() -> Router<AppState> {
    let mut router = Router::new()
        .route("/console/app.js", get(app_js))
        .route("/console/app.css", get(app_css));
    for page in [
        "/",
        "/imports",
        "/imports/{id}",
        "/import",
        "/organization",
        "/settings",
    ] {
        router = router.route(page, get(shell));
    }
    router
}

async fn shell(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let signed_in = match session_cookie(&headers) {
        Some(cookie) => matches!(live_session(&state, &cookie).await, Ok(Some(_))),
        None => false,
    };
    let html = INDEX.replace("{{SIGNED_IN}}", if signed_in { "1" } else { "0" });
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

async fn app_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        APP_JS,
    )
}

async fn app_css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        APP_CSS,
    )
}
