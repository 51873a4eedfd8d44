//! Uploads: refused when too large, unsupported or unauthenticated; the
//! object store decides readiness; a raw body with an idempotency key makes one
//! import; a lost upload fails its import.

use super::*;

#[tokio::test]
async fn uploads_are_refused_when_too_large_unsupported_or_unauthenticated() {
    let world = World::start(Mode::Embedded, 0, &[("ROSTER_MAX_UPLOAD_BYTES", "2000")]).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Tier 1", None).await;

    let big: Vec<u8> = full_csv(&[("A", "a@acme.test", "x", group)])
        .into_bytes()
        .into_iter()
        .cycle()
        .take(50_000)
        .collect();
    let a = api.upload("big.csv", big.clone(), &[]).await;
    assert_eq!(a.status, 413);
    assert_eq!(a.json()["code"], "payload_too_large");
    assert_eq!(a.headers["content-type"], "application/problem+json");
    let a = api
        .upload_raw("file_name=big.csv", "text/csv", big, &[])
        .await;
    assert_eq!(a.status, 413);

    let a = api
        .upload(
            "doc.pdf",
            b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n".to_vec(),
            &[],
        )
        .await;
    assert_eq!(a.status, 415);
    assert_eq!(a.json()["code"], "unsupported_format");

    let a = api
        .upload(
            "t.csv",
            b"Name,Email,Password\n".to_vec(),
            &[("group_id", "999999")],
        )
        .await;
    assert_eq!(a.status, 422);
    assert_eq!(a.json()["code"], "unknown_group");

    let anonymous = api.with_token("");
    assert_eq!(anonymous.get("/v1/imports").await.status, 401);
    assert_eq!(
        api.with_token("rst_wrong").get("/v1/imports").await.status,
        401
    );
    assert_eq!(
        api.get("/v1/imports/00000000-0000-0000-0000-000000000000")
            .await
            .status,
        404
    );
    assert_eq!(api.get("/v1/imports/not-a-uuid").await.status, 404);
    // Malformed parameters are problem+json too, never axum's plain text.
    let a = api.get("/v1/imports?limit=abc").await;
    assert_eq!(a.status, 400);
    assert_eq!(a.headers["content-type"], "application/problem+json");
    assert_eq!(a.json()["code"], "invalid_request");
    let a = api.get("/v1/groups/abc").await;
    assert_eq!(a.status, 404);
    assert_eq!(a.json()["code"], "not_found");
    // Nothing was registered by the refused uploads.
    assert_eq!(
        api.get("/v1/imports").await.json()["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[tokio::test]
async fn readiness_follows_the_object_store() {
    let mut world = World::start(Mode::Cluster, 0, &[]).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    assert_eq!(api.get("/healthz").await.status, 200);
    let ready = api.get("/readyz").await;
    assert_eq!(
        ready.status,
        200,
        "{}",
        String::from_utf8_lossy(&ready.body)
    );
    world.stop_s3();
    let ready = api.get("/readyz").await;
    assert_eq!(ready.status, 503);
    assert_eq!(ready.json()["code"], "unavailable");
    assert_eq!(api.get("/healthz").await.status, 200);
}

#[tokio::test]
async fn raw_body_uploads_with_an_idempotency_key_create_one_import() {
    let world = World::start(Mode::Cluster, 1, &[]).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Tier 1", None).await;
    let csv = full_csv(&[("Fa Once", "fa@acme.test", &strong_password(9), group)]).into_bytes();
    let key = [("Idempotency-Key", "retry-123")];
    let (a, b) = tokio::join!(
        api.upload_raw("file_name=once.csv", "text/csv", csv.clone(), &key),
        api.upload_raw("file_name=once.csv", "text/csv", csv.clone(), &key)
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [200, 202]);
    assert_eq!(a.json()["id"], b.json()["id"]);
    let id = a.json()["id"].as_str().unwrap().to_owned();
    api.wait_finished(&id, FINISH).await;
    let again = api
        .upload_raw("file_name=once.csv", "text/csv", csv, &key)
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["id"], id.as_str());
    assert_eq!(
        api.get("/v1/imports").await.json()["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        api.get("/v1/technicians").await.json()["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let _ = json!(null);
}

#[tokio::test]
async fn a_lost_upload_fails_the_import_instead_of_retrying_forever() {
    let mut world = World::start(Mode::Cluster, 0, &[]).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Tier 1", None).await;
    let csv = full_csv(&[("Gil Lost", "gil@acme.test", &strong_password(5), group)]);
    let a = api.upload("lost.csv", csv.into_bytes(), &[]).await;
    let id = a.json()["id"].as_str().unwrap().to_owned();
    // No worker runs yet: remove the stored upload behind Roster's back.
    let upload = world.s3_root().join(format!("roster/imports/{id}/upload"));
    assert!(upload.exists(), "{} was stored", upload.display());
    std::fs::remove_file(&upload).unwrap();
    world.start_worker();
    let done = api.wait_finished(&id, FINISH).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["error"]["code"], "internal");
    assert!(
        done["error"]["message"]
            .as_str()
            .unwrap()
            .contains("missing")
    );
}
