//! SCIM's discovery endpoints (RFC 7644 §4): what Roster's `/scim/v2` offers.
//! The User schema lists only the attributes Roster keeps, so a client that
//! reads it (scim2-tester does) sends nothing it would not get back.

use super::error::{Scim, ScimError, ScimResult};
use super::user::USER_SCHEMA;
use super::{LIST_SCHEMA, MAX_COUNT, base_url};
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

pub async fn service_provider_config(headers: HeaderMap) -> Scim {
    let base = base_url(&headers);
    Scim(
        StatusCode::OK,
        json!({
            "schemas": [SPC_SCHEMA],
            "documentationUri": "https://github.com/roster/roster/blob/main/docs/api.md#scim-20",
            "patch": {"supported": true},
            "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": true, "maxResults": MAX_COUNT},
            "changePassword": {"supported": true},
            "sort": {"supported": false},
            "etag": {"supported": false},
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "Service token",
                "description": "A Roster service token that names a technician group (POST /v1/sync/tokens), as a bearer token",
                "primary": true
            }],
            "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")}
        }),
    )
}

fn user_resource_type(base: &str) -> Value {
    json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "A technician of the token's technician group",
        "schema": USER_SCHEMA,
        "schemaExtensions": [],
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User")}
    })
}

fn attribute(name: &str, kind: &str, extra: Value) -> Value {
    let mut a = json!({
        "name": name, "type": kind, "multiValued": false, "required": false,
        "caseExact": false, "mutability": "readWrite", "returned": "default",
        "uniqueness": "none", "description": name,
    });
    if let (Some(a), Some(extra)) = (a.as_object_mut(), extra.as_object()) {
        a.extend(extra.clone());
    }
    a
}

fn user_schema(base: &str) -> Value {
    let text = |name: &str, description: &str| {
        attribute(name, "string", json!({"description": description}))
    };
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": USER_SCHEMA,
        "name": "User",
        "description": "A Roster technician",
        "attributes": [
            attribute("userName", "string", json!({"required": true, "uniqueness": "server",
                "description": "The technician's email; unique in the organization, compared case-insensitively"})),
            attribute("name", "complex", json!({"description": "name.formatted is the technician's Name",
                "subAttributes": [
                    text("formatted", "The technician's Name"),
                    text("givenName", "Kept as sent"),
                    text("familyName", "Kept as sent"),
                ]})),
            // Required: a technician has a Name, and displayName is the one
            // attribute every client sends for it (name.formatted is taken too).
            attribute("displayName", "string", json!({"required": true,
                "description": "The technician's Name (name.formatted wins when both are sent)"})),
            text("nickName", "The technician's Nickname"),
            attribute("active", "boolean", json!({"description": "Enabled; false disables and frees the mobile license seat"})),
            attribute("password", "string", json!({"mutability": "writeOnly", "returned": "never",
                "description": "Checked against the organization's password policy; kept hashed"})),
            attribute("emails", "complex", json!({"multiValued": true, "mutability": "readOnly",
                "description": "The technician's email (userName), as the work email",
                "subAttributes": [
                    attribute("value", "string", json!({"mutability": "readOnly"})),
                    attribute("type", "string", json!({"mutability": "readOnly", "canonicalValues": ["work"]})),
                    attribute("primary", "boolean", json!({"mutability": "readOnly"})),
                ]})),
        ],
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{USER_SCHEMA}")}
    })
}

fn list(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

pub async fn resource_types(headers: HeaderMap) -> Scim {
    Scim(
        StatusCode::OK,
        list(vec![user_resource_type(&base_url(&headers))]),
    )
}

pub async fn resource_type(headers: HeaderMap, Path(id): Path<String>) -> ScimResult<Scim> {
    match id.as_str() {
        "User" => Ok(Scim(
            StatusCode::OK,
            user_resource_type(&base_url(&headers)),
        )),
        _ => Err(ScimError::not_found()),
    }
}

pub async fn schemas(headers: HeaderMap) -> Scim {
    Scim(StatusCode::OK, list(vec![user_schema(&base_url(&headers))]))
}

pub async fn schema(headers: HeaderMap, Path(id): Path<String>) -> ScimResult<Scim> {
    match id.as_str() {
        USER_SCHEMA => Ok(Scim(StatusCode::OK, user_schema(&base_url(&headers)))),
        _ => Err(ScimError::not_found()),
    }
}
