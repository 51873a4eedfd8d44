//! `/v1/technicians`: the directory's technicians, filtered, paged and changed.
//! An admin sees and changes only technicians of its scope, and moves them only
//! within it. A new password is checked against the organization's policy and
//! hashed here; the hash never leaves the database.

use super::groups::placement_group;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorCode, JsonBody};
use crate::error::{Path, Query};
use crate::paging::{Page, Paged};
use crate::state::AppState;
use crate::strict::not_null;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use roster_shared::db::TechnicianWrite;
use roster_shared::model::{
    FULL_COLUMNS, FieldError, GroupId, Layout, Record, Scope, Technician, TechnicianChanges,
    TechnicianCreate, TechnicianId, TechnicianUpdate,
};
use roster_shared::password::{Credential, Password};
use roster_shared::validate::check_password;
use serde::Deserialize;
use serde_json::Value;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/technicians",
            get(list_technicians).post(create_technician),
        )
        .route(
            "/v1/technicians/{id}",
            get(get_technician).patch(update_technician),
        )
}

#[derive(Debug, Deserialize)]
struct Filter {
    group_id: Option<GroupId>,
    email: Option<String>,
    limit: Option<i64>,
    after: Option<String>,
}

async fn list_technicians(
    State(state): State<AppState>,
    caller: Caller,
    Query(f): Query<Filter>,
) -> ApiResult<Json<Paged<Technician>>> {
    let db = &state.ctx.db;
    let scope = db.scope(&caller.0).await?;
    let groups: Option<Vec<GroupId>> = match (f.group_id, &scope) {
        (Some(g), s) if !s.allows(g) => {
            return Err(ApiError::forbidden(format!(
                "group {g} is outside your groups"
            )));
        }
        (Some(g), _) => Some(vec![g]),
        (None, Scope::All) => None,
        (None, Scope::Groups(set)) => Some(set.iter().copied().collect()),
    };
    let page = Page::<i64>::read(f.limit, f.after.as_deref())?;
    let items = db
        .list_technicians(
            caller.0.org_id,
            groups.as_deref(),
            f.email.as_deref(),
            page.after.unwrap_or(0),
            page.fetch(),
        )
        .await?;
    Ok(Json(Paged::of(items, &page, |t| t.id.get())))
}

/// A technician in the caller's organization and scope: 404 when it is not in
/// the organization, 403 when it is outside the caller's groups.
async fn visible(
    state: &AppState,
    caller: &Caller,
    id: TechnicianId,
) -> ApiResult<(Technician, Scope)> {
    let db = &state.ctx.db;
    let tech = db
        .get_technician(caller.0.org_id, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let scope = db.scope(&caller.0).await?;
    if !scope.allows(tech.group_id) {
        return Err(ApiError::forbidden(
            "this technician is outside your groups",
        ));
    }
    Ok((tech, scope))
}

async fn get_technician(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<TechnicianId>,
) -> ApiResult<Json<Technician>> {
    Ok(Json(visible(&state, &caller, id).await?.0))
}

/// A patch: absent fields stay; for nickname, sso_id and description `null`
/// or `""` clears the value. The email is the technician's identity and stays.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TechnicianPatch {
    #[serde(default, deserialize_with = "not_null")]
    name: Option<String>,
    #[serde(default, deserialize_with = "super::present")]
    nickname: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::present")]
    sso_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::present")]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "not_null")]
    enabled: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    standard_license: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    mobile_license: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    group_id: Option<GroupId>,
    /// Wrapped at once: `Password` prints as `***` and cannot be serialized.
    #[serde(default, deserialize_with = "password")]
    password: Option<Password>,
}

/// A new password, never `null`.
fn password<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Password>, D::Error> {
    Ok(Some(Password::new(String::deserialize(d)?)))
}

impl TechnicianPatch {
    /// The changes, with the import's rules on lengths (API.md, "Import files").
    fn changes(&self) -> ApiResult<TechnicianChanges> {
        let name = match self.name.as_deref().map(str::trim) {
            None => None,
            Some("") => return Err(ApiError::invalid("name: is required")),
            Some(name) => Some(limited("name", name, 128)?.to_owned()),
        };
        let optional = |field: &str, value: &Option<Option<String>>, max: usize| {
            value
                .as_ref()
                .map(|v| {
                    let v = v.as_deref().map(str::trim).filter(|v| !v.is_empty());
                    v.map(|v| limited(field, v, max).map(str::to_owned))
                        .transpose()
                })
                .transpose()
        };
        Ok(TechnicianChanges {
            name,
            nickname: optional("nickname", &self.nickname, 128)?,
            sso_id: optional("sso_id", &self.sso_id, 128)?,
            description: optional("description", &self.description, 1024)?,
            enabled: self.enabled,
            standard_license: self.standard_license,
            mobile_license: self.mobile_license,
            group_id: self.group_id,
            ..TechnicianChanges::default()
        })
    }
}

fn limited<'a>(field: &str, value: &'a str, max: usize) -> ApiResult<&'a str> {
    if value.chars().count() > max {
        return Err(ApiError::invalid(format!(
            "{field}: must be at most {max} characters"
        )));
    }
    Ok(value)
}

async fn update_technician(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<TechnicianId>,
    JsonBody(patch): JsonBody<TechnicianPatch>,
) -> ApiResult<Json<Technician>> {
    let db = &state.ctx.db;
    let org = caller.0.org_id;
    let (tech, scope) = visible(&state, &caller, id).await?;
    let mut changes = patch.changes()?;
    if let Some(group) = changes.group_id {
        placement_group(&state, org, &scope, group).await?;
    }
    if let Some(password) = patch.password {
        let settings = db.settings(org).await?;
        let name = changes.name.as_deref().unwrap_or(&tech.name);
        let nickname = match &changes.nickname {
            Some(nickname) => nickname.as_deref(),
            None => tech.nickname.as_deref(),
        };
        check_new_password(
            &password,
            &settings.password_policy,
            [name, nickname.unwrap_or(""), &tech.email],
        )?;
        let hash = state.ctx.config.password_hash.hash_blocking(password);
        changes.password_hash = Some(hash.await.map_err(ApiError::internal)?);
        changes.must_change_password = Some(settings.force_password_change);
    }
    match db.update_technician(org, id, &changes).await? {
        TechnicianUpdate::Updated(tech) => Ok(Json(*tech)),
        TechnicianUpdate::Missing => Err(ApiError::not_found()),
        // This route changes no email; a change that does answers as a creation would.
        TechnicianUpdate::EmailTaken => Err(ApiError::new(
            ErrorCode::EmailTaken,
            "the email is another technician's",
        )),
        TechnicianUpdate::NoSeat { license, seats } => Err(ApiError::new(
            ErrorCode::LicenseUnavailable,
            format!("all {seats} {} license seats are in use", license.as_str()),
        )),
    }
}

/// The import's password rules: present, at most 1,024 characters, and the
/// organization's length and strength policy (`weak_password`).
fn check_new_password(
    password: &Password,
    policy: &roster_shared::model::PasswordPolicy,
    about: [&str; 3],
) -> ApiResult<()> {
    let text = password.expose();
    if text.is_empty() {
        return Err(ApiError::invalid("password: is required"));
    }
    limited("password", text, 1024)?;
    check_password(text, &policy.rules(), about)
        .map_err(|e| ApiError::new(ErrorCode::WeakPassword, format!("password: {}", e.message)))
}

/// `POST /v1/technicians` (Rescue's "Create technician"): the fields of an
/// import row, by their JSON names, typed (texts as strings, flags as
/// booleans, the group as a number). Each becomes the cell a row would hold, so
/// every rule of a row applies with the same codes, all reported at once.
/// No `Debug`: it holds a password.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TechnicianIn {
    name: Option<Value>,
    nickname: Option<Value>,
    email: Option<Value>,
    sso_id: Option<Value>,
    description: Option<Value>,
    password: Option<Value>,
    enabled: Option<Value>,
    standard_license: Option<Value>,
    mobile_license: Option<Value>,
    group_id: Option<Value>,
}

impl TechnicianIn {
    /// The request as a full-layout record: the cells a row would have, and a
    /// row error for a value no cell can hold.
    fn record(&self) -> Record {
        let values = [
            &self.name,
            &self.nickname,
            &self.email,
            &self.sso_id,
            &self.description,
            &self.password,
            &self.enabled,
            &self.standard_license,
            &self.mobile_license,
            &self.group_id,
        ];
        let mut errors = Vec::new();
        let cells = values
            .iter()
            .zip(FULL_COLUMNS)
            .enumerate()
            .map(|(at, (value, column))| {
                let (expected, fits) = match at {
                    0..=5 => ("text", matches!(value, Some(Value::String(_)))),
                    6..=8 => ("true or false", matches!(value, Some(Value::Bool(_)))),
                    _ => (
                        "a whole number",
                        matches!(value, Some(Value::Number(n)) if n.is_i64()),
                    ),
                };
                match value {
                    None | Some(Value::Null) => String::new(),
                    Some(value) if fits => roster_shared::ingest::json_cell(value)
                        .map(|text| text.trim().to_owned())
                        .unwrap_or_default(),
                    Some(_) => {
                        errors.push(FieldError::new(
                            column,
                            "invalid_value",
                            format!("must be {expected}"),
                        ));
                        String::new()
                    }
                }
            })
            .collect();
        Record {
            row: 0,
            cells,
            errors,
        }
    }
}

async fn create_technician(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(input): JsonBody<TechnicianIn>,
) -> ApiResult<(StatusCode, Json<Technician>)> {
    let db = &state.ctx.db;
    let org = caller.0.org_id;
    let settings = db.settings(org).await?;
    let rules = roster_shared::validate::RowRules {
        layout: Layout::Full,
        global_group: None,
        min_password_length: settings.password_policy.rules().min_length,
        min_password_strength: settings.password_policy.rules().min_strength,
        strength_memo: None,
    };
    let record = input.record();
    let t = tokio::task::spawn_blocking(move || {
        roster_shared::validate::NewTechnician::parse(&record, &rules)
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|errors| {
        ApiError::invalid("the technician has invalid fields; see errors").with_errors(errors)
    })?;
    let scope = db.scope(&caller.0).await?;
    placement_group(&state, org, &scope, t.group_id)
        .await
        .map_err(|e| match e.code {
            // Reported like the row error an import gives the same group.
            ErrorCode::UnknownGroup => {
                let field = FieldError::new("Tech Group ID", "unknown_group", e.detail.clone());
                e.with_errors(vec![field])
            }
            _ => e,
        })?;
    let (credential, mut write) = TechnicianWrite::from_valid(0, t, settings.force_password_change);
    write.password_hash = match credential {
        Credential::Plain(password) => (state.ctx.config.password_hash)
            .hash_blocking(password)
            .await
            .map_err(ApiError::internal)?,
        // The API's layout has no Password Hash column; kept for completeness.
        Credential::Hashed(hash) => hash.into_string(),
    };
    match db.create_technician(org, &write).await? {
        TechnicianCreate::Created(tech) => Ok((StatusCode::CREATED, Json(*tech))),
        TechnicianCreate::EmailTaken => {
            let error = FieldError::email_taken(&write.email);
            Err(ApiError::new(ErrorCode::EmailTaken, error.message.clone())
                .with_errors(vec![error]))
        }
        TechnicianCreate::NoSeat { license, seats } => Err(ApiError::new(
            ErrorCode::LicenseUnavailable,
            format!("all {seats} {} license seats are in use", license.as_str()),
        )),
    }
}
