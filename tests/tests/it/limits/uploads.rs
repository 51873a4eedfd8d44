//! Limits on imports and uploads: at most `ROSTER_MAX_ACTIVE_IMPORTS` active
//! imports, a declared length over the limit refused before the body, control
//! characters never stored, and clear answers (a file name per RFC 6266, when
//! to come back).

use super::*;
use roster_tests::both_modes;

async fn at_most_the_active_import_limit_is_accepted(mode: Mode) {
    let mut env = vec![("ROSTER_MAX_ACTIVE_IMPORTS", "4")];
    if mode == Mode::Embedded {
        // The embedded workers run the accepted imports: hashing at the real
        // cost keeps them running while the refused uploads arrive.
        env.push(("ROSTER_PASSWORD_HASH", "argon2id:m=19456,t=2,p=1"));
        env.push(("ROSTER_WORKER_CONCURRENCY", "1"));
    }
    // No workers in a cluster: accepted imports stay queued.
    let world = World::start(mode, 0, &env).await;
    let acme = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let other = world
        .admin("Other", "master@other.test", "master", &[])
        .await;
    let group = acme.group("Tier 1", None).await;
    let rows: Vec<(String, String)> = (0..200)
        .map(|i| (format!("t{i}@acme.test"), strong_password(i)))
        .collect();
    let rows: Vec<(&str, &str, &str, i64)> = rows
        .iter()
        .map(|(email, password)| ("Tech", email.as_str(), password.as_str(), group))
        .collect();
    let csv = full_csv(&rows).into_bytes();

    let key = [("Idempotency-Key", "first-upload")];
    let first = acme
        .upload_raw("file_name=first.csv", "text/csv", csv.clone(), &key)
        .await;
    assert_eq!(first.status, 202, "{}", text(&first));

    let uploads = (0..50).map(|i| {
        let (acme, csv) = (acme.clone(), csv.clone());
        tokio::spawn(async move {
            acme.upload_raw(&format!("file_name=burst-{i}.csv"), "text/csv", csv, &[])
                .await
        })
    });
    let answers: Vec<Answer> = futures_join(uploads).await;
    let accepted = answers.iter().filter(|a| a.status == 202).count();
    assert_eq!(accepted, 3, "the first and three more make four");
    for refused in answers.iter().filter(|a| a.status != 202) {
        assert_eq!(refused.status, 429, "{}", text(refused));
        assert_eq!(refused.headers["content-type"], "application/problem+json");
        assert_eq!(refused.json()["code"], "rate_limited");
        let wait: u64 = refused.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .expect("Retry-After in seconds");
        assert!(wait > 0);
    }
    // Refused uploads left nothing behind: four imports, four stored files.
    assert_eq!(imports_of(&acme.get("/v1/imports").await), 4);
    assert_eq!(stored_uploads(&world), 4);

    // A repeat of the first upload is that import, not a new one.
    let again = acme
        .upload_raw("file_name=first.csv", "text/csv", csv.clone(), &key)
        .await;
    assert_eq!(again.status, 200, "{}", text(&again));
    assert_eq!(again.json()["id"], first.json()["id"]);

    // Another organization has its own four.
    let theirs = other
        .upload_raw("file_name=theirs.csv", "text/csv", csv, &[])
        .await;
    assert_eq!(theirs.status, 202, "{}", text(&theirs));
    assert_eq!(imports_of(&acme.get("/v1/imports").await), 4);
    assert_eq!(stored_uploads(&world), 5);
}

async fn futures_join(tasks: impl Iterator<Item = tokio::task::JoinHandle<Answer>>) -> Vec<Answer> {
    let mut answers = Vec::new();
    for task in tasks.collect::<Vec<_>>() {
        answers.push(task.await.expect("upload task"));
    }
    answers
}

both_modes!(at_most_the_active_import_limit_is_accepted: at_most_the_active_import_limit_is_accepted_embedded, at_most_the_active_import_limit_is_accepted_cluster);

#[tokio::test]
async fn a_declared_length_over_the_limit_is_refused_before_the_body() {
    let world = World::start(Mode::Embedded, 0, &[("ROSTER_MAX_UPLOAD_BYTES", "1000")]).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let mut upload = connect(&world).await;
    let head = format!(
        "POST /v1/imports?file_name=big.csv HTTP/1.1\r\nHost: roster\r\nAuthorization: Bearer {}\r\n\
         Content-Type: text/csv\r\nContent-Length: 10000000\r\n\r\nName,",
        api.token
    );
    upload.write_all(head.as_bytes()).await.unwrap();
    let answer = read_answer(&mut upload).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert!(answer.contains("\"payload_too_large\""), "{answer}");
    assert_eq!(imports_of(&api.get("/v1/imports").await), 0);
}

/// A multipart form written by hand, so that its names hold exactly these bytes.
fn form(file_name: &[u8], fields: &[(&str, &[u8])], file: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"");
    body.extend_from_slice(file_name);
    body.extend_from_slice(b"\"\r\nContent-Type: text/csv\r\n\r\n");
    body.extend_from_slice(file);
    body.extend_from_slice(b"\r\n--XyZ--\r\n");
    body
}

async fn control_characters_never_reach_the_database(mode: Mode) {
    let world = World::start(mode, 0, &[]).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Tier 1", None).await;
    let csv = full_csv(&[("Ana", "ana@acme.test", &strong_password(1), group)]).into_bytes();
    let g = group.to_string();

    let refused = |a: &Answer, what: &str| {
        assert!(
            a.status == 400 || a.status == 422,
            "{what}: {} {}",
            a.status,
            text(a)
        );
        assert_eq!(
            a.headers["content-type"], "application/problem+json",
            "{what}"
        );
        assert_eq!(a.json()["code"], "invalid_request", "{what}");
    };
    for name in ["a%00.csv", "a%01.csv", "a%1B%5B31m.csv", "a%7F.csv"] {
        let a = api
            .upload_raw(
                &format!("file_name={name}&group_id={g}"),
                "text/csv",
                csv.clone(),
                &[],
            )
            .await;
        refused(&a, name);
    }
    let long = "n".repeat(300);
    let a = api
        .upload_raw(
            &format!("file_name={long}.csv"),
            "text/csv",
            csv.clone(),
            &[],
        )
        .await;
    refused(&a, "a 300-character file name");

    for (key, what) in [
        ("tab\there", "a tab"),
        ("caf\u{e9}", "a non-ASCII key"),
        (&*"k".repeat(201), "a 201-character key"),
    ] {
        let response = api
            .http
            .post(format!(
                "{}/v1/imports?file_name=t.csv&group_id={g}",
                api.base
            ))
            .bearer_auth(&api.token)
            .header("content-type", "text/csv")
            .header(
                "idempotency-key",
                reqwest::header::HeaderValue::from_bytes(key.as_bytes()).unwrap(),
            )
            .body(csv.clone())
            .send()
            .await
            .expect("sent");
        let a = Answer {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.bytes().await.unwrap().to_vec(),
        };
        refused(&a, what);
    }

    let group_field: &[u8] = g.as_bytes();
    for (file_name, fields, what) in [
        (
            &b"a\tb.csv"[..],
            vec![("group_id", group_field)],
            "a tab in the file name",
        ),
        (
            &b"a\x00b.csv"[..],
            vec![("group_id", group_field)],
            "a NUL in the file name",
        ),
        (
            &b"t.csv"[..],
            vec![("group_id", &b"1\x00"[..])],
            "a NUL in a field",
        ),
        (
            &b"t.csv"[..],
            vec![("file_name", &b"x\x00.csv"[..])],
            "a NUL in file_name",
        ),
        (
            &b"t.csv"[..],
            vec![("on_existing", &[b'x'; 2000][..])],
            "a 2000-byte field",
        ),
    ] {
        let response = api
            .http
            .post(format!("{}/v1/imports", api.base))
            .bearer_auth(&api.token)
            .header("content-type", "multipart/form-data; boundary=XyZ")
            .body(form(file_name, &fields, &csv))
            .send()
            .await
            .expect("sent");
        let a = Answer {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.bytes().await.unwrap().to_vec(),
        };
        refused(&a, what);
    }

    assert_eq!(imports_of(&api.get("/v1/imports").await), 0);
    assert_eq!(stored_uploads(&world), 0);
    // And the same upload with clean names goes through.
    let a = api
        .upload_raw(
            &format!("file_name=t.csv&group_id={g}"),
            "text/csv",
            csv,
            &[],
        )
        .await;
    assert_eq!(a.status, 202, "{}", text(&a));
}

both_modes!(control_characters_never_reach_the_database: control_characters_never_reach_the_database_embedded, control_characters_never_reach_the_database_cluster);

#[tokio::test]
async fn a_result_of_a_non_ascii_file_is_named_per_rfc_6266() {
    let world = World::start(Mode::Embedded, 0, &[]).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Tier 1", None).await;
    let csv = full_csv(&[("Ana", "ana@acme.test", &strong_password(1), group)]).into_bytes();
    let query = format!("file_name=T%C3%A9cnicos%20%22%C3%BC%22.csv&group_id={group}");
    let a = api.upload_raw(&query, "text/csv", csv, &[]).await;
    assert_eq!(a.status, 202, "{}", text(&a));
    assert_eq!(a.json()["file_name"], "Técnicos \"ü\".csv");
    let id = a.json()["id"].as_str().unwrap().to_owned();
    api.wait_finished(&id, Duration::from_secs(120)).await;
    let result = api.get(&format!("/v1/imports/{id}/result.xlsx")).await;
    assert_eq!(result.status, 200);
    let disposition = result.headers["content-disposition"].as_bytes();
    assert!(disposition.is_ascii(), "{disposition:?}");
    assert_eq!(
        String::from_utf8_lossy(disposition),
        "attachment; filename=\"T_cnicos ___-result.xlsx\"; \
         filename*=UTF-8''T%C3%A9cnicos%20%22%C3%BC%22-result.xlsx"
    );
}

#[tokio::test]
async fn an_unready_answer_says_when_to_come_back() {
    let mut world = World::start(Mode::Cluster, 0, &[]).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    world.stop_s3();
    let ready = api.get("/readyz").await;
    assert_eq!(ready.status, 503, "{}", text(&ready));
    let wait: u64 = ready.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds");
    assert!(wait > 0);
}
