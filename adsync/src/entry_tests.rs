//! Active Directory specifics over search results: the disabled bit, the
//! binary GUID's byte order, and the fallbacks of the mapping.

use super::*;

fn entry(dn: &str, text: &[(&str, &str)], bin: &[(&str, Vec<u8>)]) -> Entry {
    let mut e = Entry {
        dn: dn.into(),
        ..Entry::default()
    };
    for (k, v) in text {
        e.attrs
            .entry((*k).to_owned())
            .or_default()
            .push((*v).to_owned());
    }
    for (k, v) in bin {
        e.bin_attrs
            .entry((*k).to_owned())
            .or_default()
            .push(v.clone());
    }
    e
}

fn guid_bytes() -> Vec<u8> {
    (0x01..=0x10).map(|b| b as u8 | 0x80).collect()
}

#[test]
fn object_guid_is_shown_in_active_directory_byte_order() {
    let e = entry(
        "CN=Ana,OU=Staff,DC=acme,DC=example",
        &[
            ("displayName", "Ana Silva"),
            ("mail", "ana@acme.example"),
            ("userAccountControl", "512"),
        ],
        &[("objectGUID", guid_bytes())],
    );
    let m = e.member(Kind::ActiveDirectory, false).unwrap();
    // Bytes 81 82 .. 90: the first three fields reversed, the rest as they come.
    assert_eq!(m.external_id, "84838281-8685-8887-898a-8b8c8d8e8f90");
    assert_eq!(m.name, "Ana Silva");
    assert_eq!(m.email.as_deref(), Some("ana@acme.example"));
    assert!(m.enabled);
}

#[test]
fn a_guid_that_happens_to_be_utf8_is_read_from_its_text() {
    // Every byte below 0x80: ldap3 hands such a value over as a String.
    let ascii: String = (b'A'..=b'P').map(char::from).collect();
    let e = entry(
        "CN=Bo,DC=acme",
        &[("cn", "Bo"), ("objectGUID", &ascii)],
        &[],
    );
    let m = e.member(Kind::ActiveDirectory, false).unwrap();
    assert_eq!(m.external_id, "44434241-4645-4847-494a-4b4c4d4e4f50");
}

#[test]
fn a_guid_of_the_wrong_length_is_an_error_not_a_member() {
    let e = entry(
        "CN=Bo,DC=acme",
        &[("cn", "Bo")],
        &[("objectGUID", vec![0xff; 15])],
    );
    assert!(matches!(
        e.member(Kind::ActiveDirectory, false),
        Err(EntryError::BadGuid { .. })
    ));
    let e = entry("CN=Bo,DC=acme", &[("cn", "Bo")], &[]);
    assert!(matches!(
        e.member(Kind::ActiveDirectory, false),
        Err(EntryError::Missing { .. })
    ));
}

#[test]
fn account_disable_bit_decides_enabled() {
    let cases = [
        ("512", true),          // NORMAL_ACCOUNT
        ("514", false),         // NORMAL_ACCOUNT | ACCOUNTDISABLE
        ("66048", true),        // | DONT_EXPIRE_PASSWORD
        ("66050", false),       // | DONT_EXPIRE_PASSWORD | ACCOUNTDISABLE
        ("-2147483646", false), // signed form with the top bit and ACCOUNTDISABLE
        ("2", false),
        (" 544 ", true), // PASSWD_NOTREQD, spaces tolerated
    ];
    for (uac, enabled) in cases {
        let e = entry(
            "CN=C,DC=acme",
            &[("cn", "C"), ("userAccountControl", uac)],
            &[("objectGUID", guid_bytes())],
        );
        assert_eq!(
            e.member(Kind::ActiveDirectory, false).unwrap().enabled,
            enabled,
            "uac {uac}"
        );
    }
    // The disabled filter is not Active Directory's rule.
    let e = entry(
        "CN=C,DC=acme",
        &[("cn", "C"), ("userAccountControl", "512")],
        &[("objectGUID", guid_bytes())],
    );
    assert!(e.member(Kind::ActiveDirectory, true).unwrap().enabled);
    let e = entry(
        "CN=C,DC=acme",
        &[("cn", "C"), ("userAccountControl", "x")],
        &[("objectGUID", guid_bytes())],
    );
    assert!(matches!(
        e.member(Kind::ActiveDirectory, false),
        Err(EntryError::BadAccountControl { .. })
    ));
}

#[test]
fn ldap_entries_use_entry_uuid_cn_fallback_and_the_disabled_filter() {
    let e = entry(
        "uid=dee,ou=people,dc=acme",
        &[
            ("cn", "Dee Cee"),
            ("ENTRYUUID", "A1B2C3D4-0000-1111-2222-333344445555"),
        ],
        &[],
    );
    let m = e.member(Kind::Ldap, false).unwrap();
    assert_eq!(m.external_id, "a1b2c3d4-0000-1111-2222-333344445555");
    assert_eq!(m.name, "Dee Cee");
    assert_eq!(m.email, None);
    assert!(m.enabled);
    assert!(!e.member(Kind::Ldap, true).unwrap().enabled);
    let blank_display = entry(
        "uid=x,dc=a",
        &[
            ("displayName", "  "),
            ("cn", "X"),
            ("entryUUID", "a1b2c3d4-0000-1111-2222-333344445555"),
        ],
        &[],
    );
    assert_eq!(blank_display.member(Kind::Ldap, false).unwrap().name, "X");
    let no_uuid = entry("uid=x,dc=a", &[("cn", "X")], &[]);
    assert!(matches!(
        no_uuid.member(Kind::Ldap, false),
        Err(EntryError::Missing {
            attribute: "entryUUID",
            ..
        })
    ));
}

#[test]
fn dns_compare_without_case_or_spaces() {
    assert_eq!(
        normalize_dn("CN=Ana Silva, OU=Staff ,DC=Acme"),
        "cn=ana silva,ou=staff,dc=acme"
    );
    assert_eq!(
        domain_of("CN=Support,OU=Groups,DC=acme,DC=example"),
        "DC=acme,DC=example"
    );
    assert_eq!(domain_of("cn=x,ou=y"), "");
    assert_eq!(escape_filter_value("CN=A (x)*\\"), "CN=A \\28x\\29\\2a\\5c");
}
