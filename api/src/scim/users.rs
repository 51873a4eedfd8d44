//! `/scim/v2/Users`: list (filters, paging in provisioning order), search,
//! get, create, replace, patch and delete, each scoped to the token's
//! organization and group.

use super::error::{Scim, ScimError, ScimResult};
use super::user::{UserInput, patchable, project, render};
use super::{LIST_SCHEMA, MAX_COUNT, ScimCaller, base_url, filter, patch, read_body, write};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use std::collections::HashMap;

/// The query (or `.search` body) parameters of a list, case-insensitive.
#[derive(Default)]
struct ListParams {
    filter: Option<String>,
    start_index: Option<String>,
    count: Option<String>,
    attributes: Option<String>,
    excluded: Option<String>,
}

impl ListParams {
    fn from_pairs(pairs: impl Iterator<Item = (String, String)>) -> Self {
        let mut p = Self::default();
        for (key, value) in pairs {
            match key.to_ascii_lowercase().as_str() {
                "filter" => p.filter = Some(value),
                "startindex" => p.start_index = Some(value),
                "count" => p.count = Some(value),
                "attributes" => p.attributes = Some(value),
                "excludedattributes" => p.excluded = Some(value),
                _ => {}
            }
        }
        p
    }

    /// `startIndex` (1-based; below 1 reads as 1) and `count` (0 to [`MAX_COUNT`]).
    fn paging(&self) -> ScimResult<(i64, i64)> {
        let number = |name: &str, value: &Option<String>, default: i64| match value {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<i64>()
                .map_err(|_| ScimError::bad("invalidValue", format!("{name} must be an integer"))),
        };
        let start = number("startIndex", &self.start_index, 1)?.max(1);
        let count = number("count", &self.count, MAX_COUNT)?.clamp(0, MAX_COUNT);
        Ok((start, count))
    }
}

async fn list(
    state: &AppState,
    caller: &ScimCaller,
    headers: &HeaderMap,
    p: ListParams,
) -> ScimResult<Scim> {
    let conditions = match p.filter.as_deref() {
        Some(text) => filter::parse(text).map_err(|e| ScimError::bad("invalidFilter", e))?,
        None => Vec::new(),
    };
    let (start, count) = p.paging()?;
    let (total, users) = state
        .ctx
        .db
        .scim_users(caller.org, caller.group, &conditions, start - 1, count)
        .await?;
    let base = base_url(headers);
    let resources: Vec<Value> = users
        .iter()
        .map(|u| {
            project(
                render(u, &base),
                p.attributes.as_deref(),
                p.excluded.as_deref(),
            )
        })
        .collect();
    Ok(Scim(
        StatusCode::OK,
        json!({
            "schemas": [LIST_SCHEMA],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": resources.len(),
            "Resources": resources,
        }),
    ))
}

pub async fn list_users(
    State(state): State<AppState>,
    caller: ScimCaller,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ScimResult<Scim> {
    let query = query.unwrap_or_default();
    let pairs =
        form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned()));
    list(&state, &caller, &headers, ListParams::from_pairs(pairs)).await
}

/// `POST /Users/.search` and `POST /.search` (RFC 7644 §3.4.3): the list's
/// parameters in a body.
pub async fn search_users(
    State(state): State<AppState>,
    caller: ScimCaller,
    headers: HeaderMap,
    body: Body,
) -> ScimResult<Scim> {
    let body = read_body(body).await?;
    let object = body
        .as_object()
        .ok_or_else(|| ScimError::bad("invalidSyntax", "a SearchRequest is a JSON object"))?;
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    };
    let pairs: HashMap<String, String> = object
        .iter()
        .filter(|(k, _)| k.as_str() != "schemas")
        .map(|(k, v)| (k.clone(), text(v)))
        .collect();
    list(
        &state,
        &caller,
        &headers,
        ListParams::from_pairs(pairs.into_iter()),
    )
    .await
}

async fn linked(
    state: &AppState,
    caller: &ScimCaller,
    id: &str,
) -> ScimResult<roster_shared::model::ScimUser> {
    state
        .ctx
        .db
        .scim_user(caller.org, caller.group, id)
        .await?
        .ok_or_else(ScimError::not_found)
}

pub async fn get_user(
    State(state): State<AppState>,
    caller: ScimCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ScimResult<Scim> {
    let user = linked(&state, &caller, &id).await?;
    let query = query.unwrap_or_default();
    let p = ListParams::from_pairs(
        form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())),
    );
    let body = project(
        render(&user, &base_url(&headers)),
        p.attributes.as_deref(),
        p.excluded.as_deref(),
    );
    Ok(Scim(StatusCode::OK, body))
}

pub async fn create_user(
    State(state): State<AppState>,
    caller: ScimCaller,
    headers: HeaderMap,
    body: Body,
) -> ScimResult<Scim> {
    let input = UserInput::read(&read_body(body).await?)?;
    let user = write::create(&state, &caller, input).await?;
    tracing::info!(scim.id = %user.id, technician.id = %user.technician.id, "scim user provisioned");
    Ok(Scim(
        StatusCode::CREATED,
        render(&user, &base_url(&headers)),
    ))
}

pub async fn replace_user(
    State(state): State<AppState>,
    caller: ScimCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> ScimResult<Scim> {
    let input = UserInput::read(&read_body(body).await?)?;
    let user = linked(&state, &caller, &id).await?;
    let user = write::replace(&state, &caller, user, input).await?;
    Ok(Scim(StatusCode::OK, render(&user, &base_url(&headers))))
}

pub async fn patch_user(
    State(state): State<AppState>,
    caller: ScimCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> ScimResult<Scim> {
    let ops = patch::normalise(&read_body(body).await?)?;
    let user = linked(&state, &caller, &id).await?;
    let mut doc = patchable(&user);
    patch::apply(&mut doc, &ops)?;
    let input = UserInput::read(&Value::Object(doc))?;
    let user = write::replace(&state, &caller, user, input).await?;
    Ok(Scim(StatusCode::OK, render(&user, &base_url(&headers))))
}

pub async fn delete_user(
    State(state): State<AppState>,
    caller: ScimCaller,
    Path(id): Path<String>,
) -> ScimResult<StatusCode> {
    let user = linked(&state, &caller, &id).await?;
    write::disable_and_unlink(&state, &caller, &user).await?;
    tracing::info!(scim.id = %user.id, technician.id = %user.technician.id, "scim user disabled and unlinked");
    Ok(StatusCode::NO_CONTENT)
}
