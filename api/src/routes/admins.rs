//! `/v1/admins`, `/v1/settings`, `/v1/licenses`: the organization's administration.

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorCode, JsonBody};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use roster_shared::access::{GroupError, existing_group};
use roster_shared::db::DbError;
use roster_shared::model::{GroupId, PasswordPolicy, Role, Settings};
use roster_shared::password::Password;
use roster_shared::validate::check_password;
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/admins", post(create_admin).get(list_admins))
        .route("/v1/settings", get(get_settings).patch(update_settings))
        .route("/v1/licenses", get(get_licenses))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminIn {
    email: String,
    role: String,
    #[serde(default)]
    group_ids: Vec<GroupId>,
    /// A sign-in password; wrapped at once (`Password` never prints).
    #[serde(default, deserialize_with = "password")]
    password: Option<Password>,
}

/// A sign-in password, never `null`.
fn password<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Password>, D::Error> {
    Ok(Some(Password::new(String::deserialize(d)?)))
}

/// The organization's password policy, applied to an administrator's sign-in
/// password (`weak_password`, as for technicians).
pub(crate) fn check_admin_password(
    password: &Password,
    policy: &PasswordPolicy,
    email: &str,
) -> ApiResult<()> {
    let text = password.expose();
    if text.is_empty() || text.chars().count() > 1024 {
        return Err(ApiError::invalid("password: 1 to 1,024 characters"));
    }
    check_password(text, &policy.rules(), ["", "", email])
        .map_err(|e| ApiError::new(ErrorCode::WeakPassword, format!("password: {}", e.message)))
}

async fn create_admin(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(input): JsonBody<AdminIn>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.require_master()?;
    let db = &state.ctx.db;
    let org = caller.0.org_id;
    let role =
        Role::parse(&input.role).ok_or_else(|| ApiError::invalid("role: master or admin"))?;
    let email = roster_shared::validate::check_email(&input.email)
        .map_err(|e| ApiError::invalid(format!("email: {}", e.message)))?;
    for g in &input.group_ids {
        existing_group(db, org, *g).await.map_err(|e| match e {
            GroupError::Db(e) => e.into(),
            e => ApiError::invalid(format!("group_ids: {e}")),
        })?;
    }
    let password_hash = match input.password {
        None => None,
        Some(password) => {
            let policy = db.settings(org).await?.password_policy;
            check_admin_password(&password, &policy, email)?;
            let hash = state.ctx.config.password_hash.hash_blocking(password);
            Some(hash.await.map_err(ApiError::internal)?)
        }
    };
    let created = db
        .create_admin(org, email, role, &input.group_ids, password_hash.as_deref())
        .await;
    let (admin, token) = match created {
        Ok(created) => created,
        // Emails are unique across the service: signing in names no organization.
        Err(e @ DbError::Sqlx(_)) if e.is_unique_violation() => {
            return Err(ApiError::new(
                ErrorCode::EmailTaken,
                format!("'{email}' is an administrator already"),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let mut body = serde_json::to_value(&admin).map_err(ApiError::internal)?;
    body["token"] = json!(token);
    Ok((StatusCode::CREATED, Json(body)))
}

/// The organization's administrators (masters only); tokens are never shown again.
async fn list_admins(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    caller.require_master()?;
    let items = state.ctx.db.list_admins(caller.0.org_id).await?;
    Ok(Json(json!({"items": items, "next": null})))
}

async fn get_settings(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Settings>> {
    Ok(Json(state.ctx.db.settings(caller.0.org_id).await?))
}

/// A partial settings document: what is present changes, the rest stays.
async fn update_settings(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(patch): JsonBody<Value>,
) -> ApiResult<Json<Settings>> {
    caller.require_master()?;
    let db = &state.ctx.db;
    let org = caller.0.org_id;
    let mut patch = patch;
    // Write-only: taken out of the document before it is read as settings.
    let default_password = match patch.as_object_mut() {
        Some(fields) => fields.remove("sync_default_password"),
        None => None,
    };
    let current = db.settings(org).await?;
    let mut merged = serde_json::to_value(&current).map_err(ApiError::internal)?;
    merge(&mut merged, patch);
    let settings: Settings = serde_path_to_error::deserialize(crate::strict::Strict(merged))
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    settings.check().map_err(ApiError::invalid)?;
    let p = &settings.password_policy;
    let default_hash = match default_password {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(text)) => {
            let password = Password::new(text);
            check_admin_password(&password, p, "").map_err(|mut e| {
                e.detail = format!("sync_default_{}", e.detail);
                e
            })?;
            let hash = state.ctx.config.password_hash.hash_blocking(password);
            Some(Some(hash.await.map_err(ApiError::internal)?))
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "sync_default_password: a string, or null to clear it",
            ));
        }
    };
    db.save_settings(org, &settings).await?;
    if let Some(hash) = default_hash {
        db.set_sync_default_password(org, hash.as_deref()).await?;
    }
    Ok(Json(db.settings(org).await?))
}

fn merge(into: &mut Value, patch: Value) {
    match (into, patch) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(slot) if v.is_object() => merge(slot, v),
                    _ => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

async fn get_licenses(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    let db = &state.ctx.db;
    let settings = db.settings(caller.0.org_id).await?;
    let (standard, mobile) = db.licenses_used(caller.0.org_id).await?;
    Ok(Json(json!({
        "standard": {"seats": settings.licenses.standard_seats, "used": standard},
        "mobile": {"seats": settings.licenses.mobile_seats, "used": mobile},
    })))
}
