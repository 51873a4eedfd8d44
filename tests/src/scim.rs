//! Helpers of the SCIM tests (`scim` and `scim_errors` in tests/tests/it): an organization with a
//! SCIM service token, Okta's create request, and the check that an answer is
//! SCIM's (content type, error schema).

use crate::client::{Answer, Client, text};
use crate::{World, strong_password};
use serde_json::{Value, json};

pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// The answer is SCIM's: its content type, and for an error its schema.
pub fn scim(a: &Answer, status: u16) -> Value {
    assert_eq!(a.status, status, "{}", text(a));
    let content_type = a
        .headers
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    if status != 204 {
        assert_eq!(content_type.as_deref(), Some("application/scim+json"));
        let body = a.json();
        if status >= 400 {
            assert_eq!(body["schemas"], json!([ERROR]), "{body}");
            assert_eq!(body["status"], json!(status.to_string()), "{body}");
        }
        return body;
    }
    Value::Null
}

/// A master of `org`, a group, and a SCIM service token for it; the default
/// password set. Returns (master, group, scim client).
pub async fn provisioned(world: &World, org: &str) -> (Client, i64, Client) {
    let master = world
        .admin(org, &format!("master@{org}.test"), "master", &[])
        .await;
    let group = master.group("Support", None).await;
    let a = master
        .patch(
            "/v1/settings",
            json!({"sync_default_password": strong_password(90)}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", text(&a));
    let a = master
        .post(
            "/v1/sync/tokens",
            json!({"name": "Okta", "group_id": group}),
        )
        .await;
    assert_eq!(a.status, 201, "{}", text(&a));
    let token = a.json()["token"].as_str().unwrap().to_owned();
    (master.clone(), group, master.with_token(&token))
}

pub fn okta_user(email: &str, given: &str, password: Option<String>) -> Value {
    // Okta's "Create User" request (its SCIM 2.0 guide), a password included
    // when the app pushes passwords.
    let mut user = json!({
        "schemas": [USER], "userName": email,
        "name": {"givenName": given, "familyName": "Silva"},
        "emails": [{"primary": true, "value": email, "type": "work"}],
        "displayName": format!("{given} Silva"), "locale": "en-US",
        "externalId": format!("00u{given}"), "groups": [], "active": true
    });
    if let Some(password) = password {
        user["password"] = json!(password);
    }
    user
}
