//! The SCIM User and Roster's technician (API.md v1.1, "SCIM 2.0"): `userName`
//! is the email, `name.formatted` or else `displayName` (or else the given and
//! family names) is the Name, `nickName` the Nickname, `active` Enabled, and
//! `password` is written only. `externalId` and the given and family names
//! live on the SCIM link. Attributes of the core User schema and the
//! enterprise extension that Roster does not keep are accepted and ignored;
//! any other attribute is refused, so a typo never passes silently.

use super::error::{ScimError, ScimResult};
use roster_shared::model::{ScimAttributes, ScimUser};
use roster_shared::password::Password;
use serde_json::{Map, Value, json};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// What an attribute name is to Roster.
#[derive(Debug, PartialEq)]
pub enum Known {
    /// Kept: its canonical name.
    Attribute(&'static str),
    /// Part of the User schema, not kept by Roster (emails follow userName).
    Ignored,
    Unknown,
}

const KEPT: [&str; 7] = [
    "userName",
    "externalId",
    "name",
    "displayName",
    "nickName",
    "active",
    "password",
];

const IGNORED: [&str; 18] = [
    "schemas",
    "id",
    "meta",
    "emails",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "profileUrl",
    "phoneNumbers",
    "addresses",
    "ims",
    "photos",
    "groups",
    "entitlements",
    "roles",
    "x509Certificates",
];

/// What `name` (an attribute, case-insensitive) is.
pub fn known(name: &str) -> Known {
    if let Some(kept) = KEPT.iter().find(|k| k.eq_ignore_ascii_case(name)) {
        return Known::Attribute(kept);
    }
    let extension = name
        .get(..ENTERPRISE.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(ENTERPRISE));
    if extension || IGNORED.iter().any(|k| k.eq_ignore_ascii_case(name)) {
        Known::Ignored
    } else {
        Known::Unknown
    }
}

/// A full User representation (POST, PUT, or a patched document), read.
/// No `Debug`: it may hold a password.
pub struct UserInput {
    pub user_name: String,
    /// The Name, if any part of the input gives one.
    pub name: Option<String>,
    pub nickname: Option<String>,
    pub active: Option<bool>,
    pub password: Option<Password>,
    pub attributes: ScimAttributes,
}

fn text(doc: &Map<String, Value>, key: &str) -> ScimResult<Option<String>> {
    match doc.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned()).filter(|s| !s.is_empty())),
        Some(_) => Err(ScimError::bad(
            "invalidValue",
            format!("{key} must be a string"),
        )),
    }
}

impl UserInput {
    /// Reads a User; attribute names are case-insensitive (RFC 7643 §2.1).
    pub fn read(body: &Value) -> ScimResult<Self> {
        let object = body
            .as_object()
            .ok_or_else(|| ScimError::bad("invalidSyntax", "a User is a JSON object"))?;
        let mut doc = Map::new();
        for (key, value) in object {
            match known(key) {
                Known::Attribute(name) => {
                    doc.insert(name.to_owned(), value.clone());
                }
                Known::Ignored => {}
                Known::Unknown => {
                    return Err(ScimError::bad(
                        "invalidSyntax",
                        format!("'{key}' is not an attribute of a User"),
                    ));
                }
            }
        }
        let user_name = text(&doc, "userName")?
            .ok_or_else(|| ScimError::bad("invalidValue", "userName is required"))?;
        let mut name_parts = Map::new();
        match doc.get("name") {
            None | Some(Value::Null) => {}
            Some(Value::Object(parts)) => {
                for (key, value) in parts {
                    name_parts.insert(key.to_ascii_lowercase(), value.clone());
                }
            }
            Some(_) => return Err(ScimError::bad("invalidValue", "name must be an object")),
        }
        let formatted = text(&name_parts, "formatted")?;
        let given = text(&name_parts, "givenname")?;
        let family = text(&name_parts, "familyname")?;
        let joined = [given.as_deref(), family.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        let name = formatted
            .or(text(&doc, "displayName")?)
            .or(Some(joined).filter(|j| !j.is_empty()));
        let active = match doc.get("active") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Some(true),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Some(false),
            Some(_) => return Err(ScimError::bad("invalidValue", "active must be a boolean")),
        };
        let password = match doc.get("password") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(Password::new(s.clone())),
            Some(_) => return Err(ScimError::bad("invalidValue", "password must be a string")),
        };
        let external_id = match doc.get("externalId") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.chars().count() <= 256 => Some(s.clone()),
            Some(_) => {
                return Err(ScimError::bad(
                    "invalidValue",
                    "externalId must be a string of at most 256 characters",
                ));
            }
        };
        for (label, part) in [("name.givenName", &given), ("name.familyName", &family)] {
            if part.as_ref().is_some_and(|p| p.chars().count() > 128) {
                return Err(ScimError::bad(
                    "invalidValue",
                    format!("{label} must be at most 128 characters"),
                ));
            }
        }
        Ok(Self {
            user_name,
            name,
            nickname: text(&doc, "nickName")?,
            active,
            password,
            attributes: ScimAttributes {
                external_id,
                given_name: given,
                family_name: family,
            },
        })
    }
}

/// The document a PATCH starts from: what the user is now, with the Name as
/// `displayName` only, so a patch of either `displayName` or `name.formatted`
/// decides the new Name.
pub fn patchable(user: &ScimUser) -> Map<String, Value> {
    let t = &user.technician;
    let mut doc = Map::new();
    doc.insert("userName".into(), json!(t.email));
    doc.insert("displayName".into(), json!(t.name));
    doc.insert("active".into(), json!(t.enabled));
    if let Some(nickname) = &t.nickname {
        doc.insert("nickName".into(), json!(nickname));
    }
    if let Some(external_id) = &user.external_id {
        doc.insert("externalId".into(), json!(external_id));
    }
    let mut name = Map::new();
    if let Some(given) = &user.given_name {
        name.insert("givenName".into(), json!(given));
    }
    if let Some(family) = &user.family_name {
        name.insert("familyName".into(), json!(family));
    }
    if !name.is_empty() {
        doc.insert("name".into(), Value::Object(name));
    }
    doc
}

/// A user as SCIM shows it; `base` is the service's `/scim/v2` URL.
pub fn render(user: &ScimUser, base: &str) -> Value {
    let t = &user.technician;
    let mut name = json!({"formatted": t.name});
    if let Some(given) = &user.given_name {
        name["givenName"] = json!(given);
    }
    if let Some(family) = &user.family_name {
        name["familyName"] = json!(family);
    }
    let created = roster_shared::time::rfc3339(user.created_at);
    let modified = std::cmp::max(
        t.updated_at.clone(),
        roster_shared::time::rfc3339(user.updated_at),
    );
    let mut body = json!({
        "schemas": [USER_SCHEMA],
        "id": user.id,
        "userName": t.email,
        "name": name,
        "displayName": t.name,
        "active": t.enabled,
        "emails": [{"value": t.email, "type": "work", "primary": true}],
        "meta": {
            "resourceType": "User",
            "created": created,
            "lastModified": modified,
            "location": format!("{base}/Users/{}", user.id),
        },
    });
    if let Some(nickname) = &t.nickname {
        body["nickName"] = json!(nickname);
    }
    if let Some(external_id) = &user.external_id {
        body["externalId"] = json!(external_id);
    }
    body
}

/// `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5) on a rendered
/// resource: `id` and `schemas` are always returned.
pub fn project(mut body: Value, attributes: Option<&str>, excluded: Option<&str>) -> Value {
    let names = |list: &str| -> Vec<String> {
        list.split(',')
            .map(|a| {
                let a = a.trim();
                let a = a
                    .get(..USER_SCHEMA.len() + 1)
                    .filter(|p| p.eq_ignore_ascii_case(&format!("{USER_SCHEMA}:")))
                    .map_or(a, |_| &a[USER_SCHEMA.len() + 1..]);
                a.split('.').next().unwrap_or(a).to_ascii_lowercase()
            })
            .collect()
    };
    let Some(map) = body.as_object_mut() else {
        return body;
    };
    let always = |k: &str| k == "id" || k == "schemas";
    if let Some(list) = attributes.filter(|l| !l.trim().is_empty()) {
        let keep = names(list);
        map.retain(|k, _| always(k) || keep.contains(&k.to_ascii_lowercase()));
    } else if let Some(list) = excluded.filter(|l| !l.trim().is_empty()) {
        let drop = names(list);
        map.retain(|k, _| always(k) || !drop.contains(&k.to_ascii_lowercase()));
    }
    body
}
