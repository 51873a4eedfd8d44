//! `/v1/technicians`: the directory's technicians, filtered and paged. An admin
//! sees only technicians of its scope. The password hash never leaves the database.

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use roster_shared::db::{Scope, Technician};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/technicians", get(list_technicians))
        .route("/v1/technicians/{id}", get(get_technician))
}

#[derive(Debug, Deserialize)]
struct Filter {
    group_id: Option<i64>,
    email: Option<String>,
    limit: Option<i64>,
    after: Option<String>,
}

async fn list_technicians(
    State(state): State<AppState>,
    caller: Caller,
    Query(f): Query<Filter>,
) -> ApiResult<Json<Value>> {
    let db = &state.ctx.db;
    let scope = db.scope(&caller.0).await?;
    let groups: Option<Vec<i64>> = match (f.group_id, &scope) {
        (Some(g), s) if !s.allows(g) => {
            return Err(ApiError::forbidden(format!(
                "group {g} is outside your groups"
            )));
        }
        (Some(g), _) => Some(vec![g]),
        (None, Scope::All) => None,
        (None, Scope::Groups(set)) => Some(set.iter().copied().collect()),
    };
    let after = match f.after.as_deref() {
        None => 0,
        Some(a) => a
            .parse()
            .map_err(|_| ApiError::invalid("after: not a cursor from this list"))?,
    };
    let n = f.limit.unwrap_or(100).clamp(1, 1000);
    let items = db
        .list_technicians(
            caller.0.org_id,
            groups.as_deref(),
            f.email.as_deref(),
            after,
            n + 1,
        )
        .await?;
    let next = (items.len() as i64 > n).then(|| items[n as usize - 1].id.to_string());
    let items: Vec<&Technician> = items.iter().take(n as usize).collect();
    Ok(Json(json!({"items": items, "next": next})))
}

async fn get_technician(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<Technician>> {
    let db = &state.ctx.db;
    let tech = db
        .get_technician(caller.0.org_id, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if !db.scope(&caller.0).await?.allows(tech.group_id) {
        return Err(ApiError::forbidden(
            "this technician is outside your groups",
        ));
    }
    Ok(Json(tech))
}
