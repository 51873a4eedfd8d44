//! Operations: liveness, readiness, metrics, the OpenAPI description and the
//! example import files.

use crate::error::{ErrorCode, Path};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route("/v1/templates/{file}", get(template))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// 200 only when the database, the queue and the object store all answer.
async fn readyz(State(state): State<AppState>) -> Response {
    let ctx = &state.ctx;
    let (db, queue, store) = tokio::join!(ctx.db.ping(), ctx.queue.ping(), ctx.store.ping());
    let checks = json!({
        "database": db.as_ref().map_or_else(|e| e.to_string(), |_| "ok".into()),
        "queue": queue.as_ref().map_or_else(|e| e.to_string(), |_| "ok".into()),
        "object_store": store.as_ref().map_or_else(|e| e.to_string(), |_| "ok".into()),
    });
    if db.is_ok() && queue.is_ok() && store.is_ok() {
        (
            StatusCode::OK,
            Json(json!({"status": "ready", "checks": checks})),
        )
            .into_response()
    } else {
        tracing::warn!(%checks, "not ready");
        let code = ErrorCode::Unavailable;
        let body = json!({"type": format!("https://roster.dev/problems/{code}"), "title": "Service Unavailable",
                          "status": code.status().as_u16(), "detail": "a dependency is unreachable", "code": code.as_str(), "checks": checks});
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body.to_string(),
        )
            .into_response()
    }
}

/// Prometheus text: imports by status and rows by outcome, from the database (the truth).
async fn metrics(State(state): State<AppState>) -> Response {
    match state.ctx.db.metrics().await {
        Ok(m) => {
            let mut out = String::from(
                "# HELP roster_imports Imports by status.\n# TYPE roster_imports gauge\n",
            );
            for (status, n) in &m.imports_by_status {
                out.push_str(&format!("roster_imports{{status=\"{status}\"}} {n}\n"));
            }
            out.push_str("# HELP roster_rows_total Import rows by outcome.\n# TYPE roster_rows_total counter\n");
            for (outcome, n) in &m.rows_by_outcome {
                out.push_str(&format!("roster_rows_total{{outcome=\"{outcome}\"}} {n}\n"));
            }
            out.push_str("# HELP roster_chunks_open Chunks not done yet (queue depth).\n# TYPE roster_chunks_open gauge\n");
            out.push_str(&format!("roster_chunks_open {}\n", m.chunks_open));
            ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
        }
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("../../../docs/openapi.json"),
    )
        .into_response()
}

async fn template(Path(file): Path<String>) -> Response {
    use roster_shared::templates;
    let (body, content_type) = match file.as_str() {
        "technicians.csv" => (templates::csv(), "text/csv; charset=utf-8"),
        "technicians.json" => (templates::json(), "application/json"),
        "technicians.xlsx" => (
            templates::xlsx(),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        _ => return crate::error::ApiError::not_found().into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        body,
    )
        .into_response()
}
