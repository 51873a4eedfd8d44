//! The directory, roles and tenancy, end to end: every route tried by a master,
//! an admin whose groups hold the object, an admin whose groups do not, another
//! organization's master and no token at all; then the rules one by one
//! (technician changes, license seats, group moves, settings, imports and
//! scopes, tokens) as a user of the API sees them.

use reqwest::Method;
use roster_shared::password::HashScheme;
use roster_tests::client::{Answer, text};
use roster_tests::{Client, Mode, World, contains, full_csv, strong_password};
use serde_json::{Value, json};
use std::time::Duration;

mod cluster;
mod groups;
mod roles;
mod scope;
mod seats;
mod technicians;

const FINISH: Duration = Duration::from_secs(120);

/// The five callers every route is tried with, in this order.
struct Cast {
    /// Master of Acme.
    master: Client,
    /// Acme admin of group "Root" (and so of its sub-group "Sub").
    inside: Client,
    /// Acme admin of group "Other" only.
    outside: Client,
    /// Master of another organization, Globex.
    stranger: Client,
    /// No token.
    anonymous: Client,
}

/// Acme's groups and Globex's one.
struct Groups {
    root: i64,
    sub: i64,
    other: i64,
    globex: i64,
}

async fn cast(world: &World) -> (Cast, Groups) {
    let master = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let root = master.group("Root", None).await;
    let sub = master.group("Sub", Some(root)).await;
    let other = master.group("Other", None).await;
    let inside = world
        .admin("Acme", "inside@acme.test", "admin", &[root])
        .await;
    let outside = world
        .admin("Acme", "outside@acme.test", "admin", &[other])
        .await;
    let stranger = world
        .admin("Globex", "master@globex.test", "master", &[])
        .await;
    let globex = stranger.group("Globex Tier 1", None).await;
    let anonymous = master.with_token("");
    (
        Cast {
            master,
            inside,
            outside,
            stranger,
            anonymous,
        },
        Groups {
            root,
            sub,
            other,
            globex,
        },
    )
}

impl Cast {
    fn all(&self) -> [(&'static str, &Client); 5] {
        [
            ("master", &self.master),
            ("in-scope admin", &self.inside),
            ("out-of-scope admin", &self.outside),
            ("other organization's master", &self.stranger),
            ("no token", &self.anonymous),
        ]
    }

    /// Sends the same request as each caller in turn and checks each status;
    /// every refusal is problem+json with the matching code.
    async fn expect(&self, method: Method, path: &str, body: Option<Value>, want: [u16; 5]) {
        for ((who, client), want) in self.all().into_iter().zip(want) {
            let a = client.request(method.clone(), path, body.clone()).await;
            assert_eq!(
                a.status,
                want,
                "{method} {path} as {who}: {}",
                String::from_utf8_lossy(&a.body)
            );
            if want >= 400 {
                assert_eq!(
                    a.headers["content-type"], "application/problem+json",
                    "{method} {path} as {who}"
                );
                let code = match want {
                    401 => "unauthorized",
                    403 => "forbidden",
                    404 => "not_found",
                    _ => continue,
                };
                assert_eq!(a.json()["code"], code, "{method} {path} as {who}");
            }
        }
    }
}

fn ids(list: &Value) -> Vec<i64> {
    list["items"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|item| item["id"].as_i64().expect("an id"))
        .collect()
}

/// Uploads a CSV and waits for the import to finish; returns its final JSON.
async fn import(api: &Client, csv: String, fields: &[(&str, &str)]) -> Value {
    let a = api
        .upload("technicians.csv", csv.into_bytes(), fields)
        .await;
    assert_eq!(a.status, 202, "{}", text(&a));
    let id = a.json()["id"].as_str().expect("import id").to_owned();
    let done = api.wait_finished(&id, FINISH).await;
    assert_eq!(done["status"], "completed", "{done}");
    done
}

/// The id of the technician with `email`, as the master sees it.
async fn technician_id(api: &Client, email: &str) -> i64 {
    let found = api.get(&format!("/v1/technicians?email={email}")).await;
    assert_eq!(found.status, 200, "{}", text(&found));
    found.json()["items"][0]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no technician {email}"))
}
