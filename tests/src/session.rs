//! A person's browser, as far as the API sees it: the `roster_session` cookie
//! from `POST /v1/session`, sent back by hand (so tests see its attributes),
//! and the CSRF token sent with changes.

use crate::client::{Answer, Client};
use serde_json::{Value, json};
use std::time::Duration;

/// A signed-in session against one API instance.
#[derive(Clone)]
pub struct Session {
    pub base: String,
    /// The cookie's value.
    pub cookie: String,
    /// The whole `Set-Cookie` header of the sign-in.
    pub set_cookie: String,
    /// Sent as `X-CSRF-Token` when set.
    pub csrf: Option<String>,
    http: reqwest::Client,
}

/// `POST /v1/session` with `email` and `password`, no token.
pub async fn sign_in(base: &str, email: &str, password: &str) -> Answer {
    crate::Client::new(base, "")
        .post("/v1/session", json!({"email": email, "password": password}))
        .await
}

impl Session {
    /// The session a successful sign-in answer set.
    pub fn from_sign_in(base: &str, answer: &Answer) -> Self {
        assert_eq!(
            answer.status,
            204,
            "sign-in: {}",
            String::from_utf8_lossy(&answer.body)
        );
        let set_cookie = answer
            .headers
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .expect("a Set-Cookie header")
            .to_owned();
        let cookie = set_cookie
            .split(';')
            .next()
            .and_then(|pair| pair.trim().strip_prefix("roster_session="))
            .expect("the roster_session cookie")
            .to_owned();
        Self {
            base: base.to_owned(),
            cookie,
            set_cookie,
            csrf: None,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("http client"),
        }
    }

    /// Signs in (asserting success) and reads the CSRF token.
    pub async fn start(base: &str, email: &str, password: &str) -> Self {
        Self::from_sign_in(base, &sign_in(base, email, password).await)
            .signed_in()
            .await
    }

    /// This session with its CSRF token, read from `GET /v1/session`.
    pub async fn signed_in(&self) -> Self {
        let answer = self.get("/v1/session").await;
        assert_eq!(
            answer.status,
            200,
            "GET /v1/session: {}",
            String::from_utf8_lossy(&answer.body)
        );
        let csrf = answer.json()["csrf_token"]
            .as_str()
            .expect("csrf_token")
            .to_owned();
        self.with_csrf(Some(&csrf))
    }

    pub fn with_csrf(&self, csrf: Option<&str>) -> Self {
        Self {
            csrf: csrf.map(str::to_owned),
            ..self.clone()
        }
    }

    pub fn without_csrf(&self) -> Self {
        self.with_csrf(None)
    }

    /// The same cookie sent to another API instance.
    pub fn at(&self, base: &str) -> Self {
        Self {
            base: base.to_owned(),
            ..self.clone()
        }
    }

    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Answer {
        let mut req = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .header("cookie", format!("roster_session={}", self.cookie));
        if let Some(csrf) = &self.csrf {
            req = req.header("x-csrf-token", csrf);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Client::answer(req.send().await.expect("request sent")).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.request(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.request(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Answer {
        self.request(reqwest::Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.request(reqwest::Method::DELETE, path, None).await
    }
}
