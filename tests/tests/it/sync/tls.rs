//! A directory behind TLS signed by a private CA: trusted through
//! `--ca-file` only, over LDAPS and StartTLS.

use super::*;

/// A directory whose certificate a private CA signed (as Active Directory's
/// almost always is): read over LDAPS and over StartTLS once `--ca-file`
/// names that CA; without it (the system's roots) or with another CA the
/// handshake fails, before the bind, and nothing is sent.
#[tokio::test]
async fn embedded_tls_a_private_ca_is_trusted_through_ca_file_only() {
    let slapd = Slapd::start_tls(&ldap::base_ldif(12, 1..=10));
    let world = World::start(Mode::Embedded, 1, &[]).await;
    let master = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let support = master.group("Support", None).await;
    let token = master.token.clone();
    let ca = slapd.tls.as_ref().expect("TLS").ca.display().to_string();
    let (ldaps, ldap) = (slapd.ldaps_url(), slapd.url());

    let first = adsync(&world, &ldaps, &token, support, &["--ca-file", &ca]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let run = import(&master, &import_id(&first)).await;
    assert_eq!(
        counts(&run),
        json!({"created": 10, "updated": 0, "unchanged": 0, "disabled": 0, "failed": 0})
    );
    let again = adsync(
        &world,
        &ldap,
        &token,
        support,
        &["--starttls", "--ca-file", &ca],
    );
    assert_eq!(again.code, 0, "{}", again.stderr);
    let run = import(&master, &import_id(&again)).await;
    assert_eq!(
        counts(&run),
        json!({"created": 0, "updated": 0, "unchanged": 10, "disabled": 0, "failed": 0})
    );

    let sources = master.get("/v1/sync/sources").await.json();
    assert_eq!(sources["items"][0]["last_run"]["id"], run["id"]);
    let other = ldap::throwaway_ca(world.dir.path(), "other-ca");
    let other = other.display().to_string();
    for (url, extra) in [
        (&ldaps, vec![]),
        (&ldap, vec!["--starttls"]),
        (&ldaps, vec!["--ca-file", &other]),
        (&ldap, vec!["--starttls", "--ca-file", &other]),
    ] {
        let refused = adsync(&world, url, &token, support, &extra);
        assert_eq!(refused.code, 1, "{url} {extra:?}: {}", refused.stdout);
        assert!(
            refused
                .stderr
                .contains("TLS: the directory's certificate does not verify against")
                && refused.stderr.contains("UnknownIssuer")
                && refused.stderr.ends_with("; nothing was sent\n"),
            "{url} {extra:?}: {}",
            refused.stderr
        );
        let trusted = if extra.contains(&"--ca-file") {
            format!("--ca-file {other}")
        } else {
            "the system's roots".to_owned()
        };
        assert!(refused.stderr.contains(&trusted), "{}", refused.stderr);
    }
    // A CA file that cannot be used, or one without TLS to check: nothing tried.
    let missing = world.dir.path().join("absent.pem").display().to_string();
    let unusable = adsync(&world, &ldaps, &token, support, &["--ca-file", &missing]);
    assert_eq!(unusable.code, 1);
    assert!(
        unusable.stderr.contains(&format!("--ca-file {missing}: "))
            && unusable.stderr.contains("nothing was sent"),
        "{}",
        unusable.stderr
    );
    let plain = adsync(&world, &ldap, &token, support, &["--ca-file", &ca]);
    assert_eq!(plain.code, 2);
    assert!(
        plain
            .stderr
            .contains("--ca-file needs an ldaps:// URL or --starttls"),
        "{}",
        plain.stderr
    );
    assert_eq!(
        master.get("/v1/sync/sources").await.json(),
        sources,
        "no run was sent"
    );
}
