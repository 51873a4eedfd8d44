//! SCIM writes under Roster's rules: a User becomes the cells of an import row
//! and is parsed by `NewTechnician::parse` (lengths, email, password policy
//! and strength), then created or updated by the same database methods as
//! `POST`/`PATCH /v1/technicians` (seats locked, one email per organization).
//! Scope: the token's group and its sub-groups. A technician moved out of them
//! in Roster since follows SCIM for its status only, as with directory sync.

use super::ScimCaller;
use super::error::{ScimError, ScimResult};
use super::user::UserInput;
use crate::error::ApiError;
use crate::state::AppState;
use axum::http::StatusCode;
use roster_shared::db::{ScimCreate, TechnicianWrite};
use roster_shared::model::{
    Admin, AdminId, FieldError, GroupId, Layout, Record, Role, ScimUser, Scope, Settings,
    TechnicianChanges, TechnicianCreate, TechnicianUpdate,
};
use roster_shared::password::{Credential, Password};
use roster_shared::validate::{NewTechnician, PasswordRules, RowRules};

/// The groups a SCIM token may write to: its group and the groups below it.
async fn scope(state: &AppState, caller: &ScimCaller) -> ScimResult<Scope> {
    let as_admin = Admin {
        id: AdminId::new(0),
        org_id: caller.org,
        email: String::new(),
        role: Role::Admin,
        group_ids: vec![caller.group],
    };
    Ok(state.ctx.db.scope(&as_admin).await?)
}

fn flag(value: bool) -> String {
    value.to_string()
}

/// The row rules of the organization; without a password, a placeholder is
/// parsed under no policy (the default password is applied instead).
async fn validate(
    settings: &Settings,
    input: &UserInput,
    name: &str,
    enabled: bool,
    licenses: (bool, bool),
    group: GroupId,
) -> ScimResult<NewTechnician> {
    // No password sent: the stand-in below is checked against no policy.
    let password_rules = match input.password {
        Some(_) => settings.password_policy.rules(),
        None => PasswordRules {
            min_length: 0,
            min_strength: 0,
        },
    };
    let rules = RowRules {
        layout: Layout::Full,
        global_group: None,
        min_password_length: password_rules.min_length,
        min_password_strength: password_rules.min_strength,
        strength_memo: None,
    };
    let password = input.password.as_ref().map_or("-", Password::expose);
    let record = Record {
        row: 0,
        cells: vec![
            name.to_owned(),
            input.nickname.clone().unwrap_or_default(),
            input.user_name.clone(),
            String::new(),
            String::new(),
            password.to_owned(),
            flag(enabled),
            flag(licenses.0),
            flag(licenses.1),
            group.to_string(),
        ],
        errors: Vec::new(),
    };
    tokio::task::spawn_blocking(move || NewTechnician::parse(&record, &rules))
        .await
        .map_err(|e| ScimError::from(ApiError::internal(e)))?
        .map_err(invalid)
}

/// Field errors as one SCIM `invalidValue`, naming SCIM's attributes.
fn invalid(errors: Vec<FieldError>) -> ScimError {
    let attribute = |field: &str| {
        match field {
            "Name" => "name",
            "Nickname" => "nickName",
            "Email" => "userName",
            "Password" => "password",
            "Enabled" => "active",
            other => other,
        }
        .to_owned()
    };
    let detail = errors
        .iter()
        .map(|e| format!("{}: {}", attribute(&e.field), e.message))
        .collect::<Vec<_>>()
        .join("; ");
    ScimError::bad("invalidValue", detail)
}

fn no_seat(license: roster_shared::model::License, seats: i64) -> ScimError {
    ScimError::new(
        StatusCode::CONFLICT,
        None,
        format!("all {seats} {} license seats are in use", license.as_str()),
    )
}

async fn hash(state: &AppState, credential: Credential) -> ScimResult<String> {
    let password = match credential {
        Credential::Plain(password) => password,
        // SCIM carries no Password Hash; kept for completeness.
        Credential::Hashed(hash) => return Ok(hash.into_string()),
    };
    state
        .ctx
        .config
        .password_hash
        .hash_blocking(password)
        .await
        .map_err(|e| ApiError::internal(e).into())
}

/// Provisions a new user; a technician with that email that no SCIM link holds
/// and that is in the token's scope is linked instead (as directory sync does).
pub async fn create(
    state: &AppState,
    caller: &ScimCaller,
    input: UserInput,
) -> ScimResult<ScimUser> {
    let db = &state.ctx.db;
    let org = caller.org;
    let settings = db.settings(org).await?;
    let existing = db
        .list_technicians(org, None, Some(&input.user_name), 0, 1)
        .await?
        .into_iter()
        .next();
    if let Some(technician) = existing {
        let taken = || ScimError::uniqueness(format!("userName '{}' is taken", input.user_name));
        if db.scim_link_of(org, technician.id).await?.is_some()
            || !scope(state, caller).await?.allows(technician.group_id)
        {
            return Err(taken());
        }
        let id = db
            .link_scim_user(org, caller.group, technician.id, &input.attributes)
            .await?
            .ok_or_else(taken)?;
        let user = db
            .scim_user(org, caller.group, &id)
            .await?
            .ok_or_else(ScimError::not_found)?;
        return replace(state, caller, user, input).await;
    }
    let name = input.name.clone().unwrap_or_default();
    let enabled = input.active.unwrap_or(true);
    // As directory sync provisions: a standard license, no mobile license.
    let valid = validate(
        &settings,
        &input,
        &name,
        enabled,
        (true, false),
        caller.group,
    )
    .await?;
    let (password, mut write) =
        TechnicianWrite::from_valid(0, valid, settings.force_password_change);
    if input.password.is_some() {
        write.password_hash = hash(state, password).await?;
    } else {
        write.password_hash = db.sync_default_password_hash(org).await?.ok_or_else(|| {
            ScimError::bad(
                "invalidValue",
                "password: none was given and no default password is set (settings: sync_default_password)",
            )
        })?;
        write.must_change_password = true;
    }
    match db
        .create_scim_user(org, caller.group, &write, &input.attributes)
        .await?
    {
        ScimCreate::Created(user) => Ok(*user),
        ScimCreate::Refused(TechnicianCreate::EmailTaken) => Err(ScimError::uniqueness(format!(
            "userName '{}' is taken",
            write.email
        ))),
        ScimCreate::Refused(TechnicianCreate::NoSeat { license, seats }) => {
            Err(no_seat(license, seats))
        }
        ScimCreate::Refused(TechnicianCreate::Created(_)) => {
            Err(ApiError::internal("a refused creation reported a technician").into())
        }
    }
}

/// Replaces what SCIM holds of `user` by `input` (PUT, and PATCH's result).
pub async fn replace(
    state: &AppState,
    caller: &ScimCaller,
    user: ScimUser,
    input: UserInput,
) -> ScimResult<ScimUser> {
    let db = &state.ctx.db;
    let org = caller.org;
    let t = &user.technician;
    let settings = db.settings(org).await?;
    let name = input.name.clone().unwrap_or_else(|| t.name.clone());
    let enabled = input.active.unwrap_or(t.enabled);
    let licenses = (t.standard_license, t.mobile_license);
    let valid = validate(&settings, &input, &name, enabled, licenses, t.group_id).await?;
    let mut changes = TechnicianChanges {
        enabled: Some(valid.enabled),
        ..TechnicianChanges::default()
    };
    if scope(state, caller).await?.allows(t.group_id) {
        changes.name = Some(valid.name.clone());
        changes.nickname = Some(valid.nickname.clone());
        if valid.email != t.email {
            changes.email = Some(valid.email.clone());
        }
        if input.password.is_some() {
            changes.password_hash = Some(hash(state, valid.credential).await?);
            changes.must_change_password = Some(settings.force_password_change);
        }
    }
    match db.update_technician(org, t.id, &changes).await? {
        TechnicianUpdate::Updated(_) => {}
        TechnicianUpdate::Missing => return Err(ScimError::not_found()),
        TechnicianUpdate::EmailTaken => {
            return Err(ScimError::uniqueness(format!(
                "userName '{}' is taken",
                input.user_name
            )));
        }
        TechnicianUpdate::NoSeat { license, seats } => return Err(no_seat(license, seats)),
    }
    db.set_scim_attributes(org, caller.group, &user.id, &input.attributes)
        .await?;
    db.scim_user(org, caller.group, &user.id)
        .await?
        .ok_or_else(ScimError::not_found)
}

/// SCIM DELETE: the technician is disabled (its mobile seat freed) and the
/// link ends; the technician itself stays.
pub async fn disable_and_unlink(
    state: &AppState,
    caller: &ScimCaller,
    user: &ScimUser,
) -> ScimResult<()> {
    let db = &state.ctx.db;
    let changes = TechnicianChanges {
        enabled: Some(false),
        ..TechnicianChanges::default()
    };
    match db
        .update_technician(caller.org, user.technician.id, &changes)
        .await?
    {
        TechnicianUpdate::Updated(_) | TechnicianUpdate::Missing => {}
        TechnicianUpdate::EmailTaken | TechnicianUpdate::NoSeat { .. } => {
            return Err(ApiError::internal("disabling a technician was refused").into());
        }
    }
    db.unlink_scim_user(caller.org, caller.group, &user.id)
        .await?;
    Ok(())
}
