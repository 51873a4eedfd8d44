//! A small typed client over Roster's HTTP API, as a user's script would use it.

use crate::eventually;
use serde_json::Value;
use std::time::Duration;

/// An HTTP client holding one administrator's token.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub token: String,
    pub http: reqwest::Client,
}

/// An HTTP answer: status and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", text(self)))
    }
}

/// An answer's body as text, for an assertion's message.
pub fn text(a: &Answer) -> String {
    String::from_utf8_lossy(&a.body).into_owned()
}

/// The `(field, code)` of each entry of `value`'s `errors`: a row outcome's or
/// a problem document's.
pub fn error_pairs(value: &Value) -> Vec<(String, String)> {
    value["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    (
                        e["field"].as_str().unwrap_or_default().to_owned(),
                        e["code"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The technician with `email` as `client` sees it, `Null` when there is none.
pub async fn technician(client: &Client, email: &str) -> Value {
    let a = client
        .get(&format!(
            "/v1/technicians?email={}",
            email.replace('+', "%2B")
        ))
        .await;
    assert_eq!(a.status, 200, "{}", text(&a));
    a.json()["items"][0].clone()
}

impl Client {
    pub fn new(base: &str, token: &str) -> Self {
        Self {
            base: base.to_owned(),
            token: token.to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .expect("http client"),
        }
    }

    /// The same server with another (or no) token.
    pub fn with_token(&self, token: &str) -> Self {
        Self::new(&self.base, token)
    }

    /// A response as an [`Answer`], its body read whole.
    pub async fn answer(response: reqwest::Response) -> Answer {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.expect("body").to_vec();
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Answer {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if !self.token.is_empty() {
            req = req.bearer_auth(&self.token);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Self::answer(req.send().await.expect("request sent")).await
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

    /// Creates a group and returns its id.
    pub async fn group(&self, name: &str, parent: Option<i64>) -> i64 {
        let a = self
            .post(
                "/v1/groups",
                serde_json::json!({"name": name, "parent_id": parent}),
            )
            .await;
        assert_eq!(
            a.status,
            201,
            "create group: {}",
            String::from_utf8_lossy(&a.body)
        );
        a.json()["id"].as_i64().expect("group id")
    }

    /// Uploads a file as multipart/form-data with extra form fields.
    pub async fn upload(&self, file_name: &str, bytes: Vec<u8>, fields: &[(&str, &str)]) -> Answer {
        let mut form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_owned()),
        );
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        let req = self
            .http
            .post(format!("{}/v1/imports", self.base))
            .bearer_auth(&self.token)
            .multipart(form);
        Self::answer(req.send().await.expect("upload sent")).await
    }

    /// Uploads a file as the raw body, options in the query string.
    pub async fn upload_raw(
        &self,
        query: &str,
        content_type: &str,
        bytes: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut req = self
            .http
            .post(format!("{}/v1/imports?{query}", self.base))
            .bearer_auth(&self.token)
            .header("content-type", content_type)
            .body(bytes);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        Self::answer(req.send().await.expect("upload sent")).await
    }

    /// Polls an import until it has finished; returns its final JSON.
    pub async fn wait_finished(&self, id: &str, timeout: Duration) -> Value {
        eventually(timeout, &format!("import {id} to finish"), || async {
            let a = self.get(&format!("/v1/imports/{id}")).await;
            let v = a.json();
            matches!(
                v["status"].as_str(),
                Some("completed" | "failed" | "cancelled")
            )
            .then_some(v)
        })
        .await
    }

    /// Every row outcome of an import, following the cursor.
    pub async fn all_rows(&self, id: &str) -> Vec<Value> {
        let mut rows = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let path = match &after {
                Some(a) => format!("/v1/imports/{id}/rows?limit=1000&after={a}"),
                None => format!("/v1/imports/{id}/rows?limit=1000"),
            };
            let page = self.get(&path).await.json();
            rows.extend(page["items"].as_array().cloned().unwrap_or_default());
            match page["next"].as_str() {
                Some(n) => after = Some(n.to_owned()),
                None => return rows,
            }
        }
    }

    /// Downloads the result spreadsheet and reads its first sheet as text rows.
    pub async fn result_sheet(&self, id: &str) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
        let a = self.get(&format!("/v1/imports/{id}/result.xlsx")).await;
        assert_eq!(
            a.status,
            200,
            "result: {}",
            String::from_utf8_lossy(&a.body)
        );
        read_xlsx(&a.body)
    }
}

/// The parts of an xlsx (a zip) whose names start with `prefix`, as text.
pub fn xlsx_parts(bytes: &[u8], prefix: &str) -> Vec<(String, String)> {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("an xlsx is a zip");
    let names: Vec<String> = zip
        .file_names()
        .map(|n| n.expect("a part name").into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect();
    names
        .into_iter()
        .map(|name| {
            let mut text = String::new();
            zip.by_name(&name)
                .expect("part")
                .read_to_string(&mut text)
                .expect("a text part");
            (name, text)
        })
        .collect()
}

/// Reads an xlsx (our own small result files) into (first sheet, "Summary" sheet) rows of text.
pub fn read_xlsx(bytes: &[u8]) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    use calamine::{Reader, Xlsx};
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes.to_vec()))
        .expect("a valid xlsx");
    let names = book.sheet_names();
    let sheet = |book: &mut Xlsx<_>, name: &str| -> Vec<Vec<String>> {
        let range = book.worksheet_range(name).expect("sheet");
        range
            .rows()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect()
    };
    let first = sheet(&mut book, &names[0]);
    let summary = names
        .iter()
        .find(|n| n.as_str() == "Summary")
        .map(|n| sheet(&mut book, n))
        .unwrap_or_default();
    (first, summary)
}
