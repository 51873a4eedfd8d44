//! The row rules, field by field, and the two ways a row gives a credential.

use super::*;
use crate::model::FULL_COLUMNS;

const STRONG: &str = "Correct-Horse-Battery-9";

fn rules(layout: Layout, global_group: Option<i64>) -> RowRules {
    RowRules {
        layout,
        global_group: global_group.map(GroupId::new),
        min_password_length: 8,
        min_password_strength: 2,
        strength_memo: None,
    }
}

/// The password of a row that gave one.
fn plain(tech: &NewTechnician) -> &str {
    match &tech.credential {
        Credential::Plain(password) => password.expose(),
        Credential::Hashed(_) => panic!("expected a password, got a hash"),
    }
}

fn record(cells: &[&str]) -> Record {
    Record {
        row: 2,
        cells: cells.iter().map(|c| (*c).to_owned()).collect(),
        errors: Vec::new(),
    }
}

fn full(cells: [&str; 10]) -> Record {
    record(&cells)
}

fn valid_full() -> [&'static str; 10] {
    [
        "Ana Example",
        "Ana",
        "Ana@Example.com",
        "ana.sso",
        "Tier 1",
        STRONG,
        "Yes",
        "y",
        "FALSE",
        "12",
    ]
}

fn codes(errors: &[FieldError]) -> Vec<(&str, &str)> {
    errors
        .iter()
        .map(|e| (e.field.as_str(), e.code.as_str()))
        .collect()
}

#[test]
fn a_valid_full_row_parses_into_a_technician() {
    let tech =
        NewTechnician::parse(&full(valid_full()), &rules(Layout::Full, None)).expect("valid row");
    assert_eq!(tech.name, "Ana Example");
    assert_eq!(tech.nickname.as_deref(), Some("Ana"));
    assert_eq!(tech.email, "Ana@Example.com");
    assert_eq!(tech.email_key, "ana@example.com");
    assert_eq!(tech.sso_id.as_deref(), Some("ana.sso"));
    assert_eq!(tech.description.as_deref(), Some("Tier 1"));
    assert_eq!(plain(&tech), STRONG);
    assert!(tech.enabled && tech.standard_license && !tech.mobile_license);
    assert_eq!(tech.group_id, GroupId::new(12));
}

#[test]
fn empty_optional_cells_are_none() {
    let mut cells = valid_full();
    cells[1] = "";
    cells[3] = "";
    cells[4] = "";
    let tech = NewTechnician::parse(&full(cells), &rules(Layout::Full, None)).expect("valid");
    assert_eq!(
        (tech.nickname, tech.sso_id, tech.description),
        (None, None, None)
    );
}

#[test]
fn the_short_layout_takes_the_global_group_and_license_defaults() {
    let tech = NewTechnician::parse(
        &record(&["Bo Tester", "bo@example.org", STRONG]),
        &rules(Layout::Short, Some(7)),
    )
    .expect("valid short row");
    assert_eq!(tech.group_id, GroupId::new(7));
    assert!(tech.enabled && tech.standard_license && !tech.mobile_license);
    assert_eq!(tech.nickname, None);
}

#[test]
fn every_problem_of_a_row_is_reported_after_the_readers() {
    let mut rec = full(["", "", "", "", "", "", "maybe", "", "2", "abc"]);
    rec.errors.push(FieldError::new(
        "color",
        "unknown_column",
        "unknown key 'color'",
    ));
    let errors = NewTechnician::parse(&rec, &rules(Layout::Full, None)).expect_err("invalid");
    assert_eq!(
        codes(&errors),
        [
            ("color", "unknown_column"),
            ("Name", "required"),
            ("Email", "required"),
            ("Password", "required"),
            ("Enabled", "invalid_boolean"),
            ("Standard License", "required"),
            ("Mobile License", "invalid_boolean"),
            ("Tech Group ID", "invalid_group"),
        ]
    );
    assert_eq!(errors[4].message, "'maybe' is not yes or no");
    assert_eq!(errors[2].message, "is required");
    for field in errors.iter().skip(1) {
        assert!(FULL_COLUMNS.contains(&field.field.as_str()));
    }
}

#[test]
fn reader_errors_alone_fail_a_row() {
    let mut rec = full(valid_full());
    rec.errors.push(FieldError::new(
        "Description",
        "too_long",
        "over 32,767 characters",
    ));
    let errors = NewTechnician::parse(&rec, &rules(Layout::Full, None)).expect_err("fails");
    assert_eq!(codes(&errors), [("Description", "too_long")]);
}

#[test]
fn a_field_the_reader_reported_is_not_reported_again() {
    let mut cells = valid_full();
    let cut = "d".repeat(32_767); // what the reader kept of a longer cell
    cells[4] = &cut;
    cells[0] = "";
    let mut rec = full(cells);
    rec.errors.push(FieldError::new(
        "Description",
        "too_long",
        "is over 32,767 characters",
    ));
    rec.errors
        .push(FieldError::new("Email", "invalid_value", "not text"));
    rec.cells[2] = String::new(); // the reader leaves a non-text value empty
    let errors = NewTechnician::parse(&rec, &rules(Layout::Full, None)).expect_err("fails");
    assert_eq!(
        codes(&errors),
        [
            ("Description", "too_long"),
            ("Email", "invalid_value"),
            ("Name", "required")
        ]
    );
    assert_eq!(errors[0].message, "is over 32,767 characters");
}

#[test]
fn lengths_are_counted_in_characters() {
    let mut cells = valid_full();
    let name_128 = "é".repeat(128);
    let nick_129 = "n".repeat(129);
    let description = "d".repeat(1025);
    let email = format!("{}@example.com", "a".repeat(243));
    cells[0] = &name_128;
    cells[1] = &nick_129;
    cells[2] = &email;
    cells[4] = &description;
    let errors =
        NewTechnician::parse(&full(cells), &rules(Layout::Full, None)).expect_err("too long");
    assert_eq!(
        codes(&errors),
        [
            ("Nickname", "too_long"),
            ("Email", "too_long"),
            ("Description", "too_long")
        ]
    );
    assert_eq!(
        errors[0].message,
        "must be at most 128 characters (has 129)"
    );
}

#[test]
fn malformed_emails_are_refused() {
    for bad in [
        "foo@",
        "foo",
        "foo@localhost",
        "Ana <ana@example.com>",
        "ana@[127.0.0.1]",
        "ana@@example.com",
        "ana@example..com",
        "an a@example.com",
    ] {
        let mut cells = valid_full();
        cells[2] = bad;
        let errors = NewTechnician::parse(&full(cells), &rules(Layout::Full, None)).expect_err(bad);
        assert_eq!(codes(&errors), [("Email", "invalid_email")], "{bad}");
        assert_eq!(
            errors[0].message,
            format!("'{bad}' is not a valid email address")
        );
    }
}

#[test]
fn passwords_must_meet_the_policy_and_never_appear_in_messages() {
    let cases = [
        ("abc", "must be at least 8 characters"),
        ("password", "too weak (strength 0 of 4, needs 2)"),
        // The row's own email: weak because zxcvbn is given it.
        ("Ana@Example.com", "too weak"),
    ];
    for (password, message) in cases {
        let mut cells = valid_full();
        cells[5] = password;
        let errors =
            NewTechnician::parse(&full(cells), &rules(Layout::Full, None)).expect_err(password);
        assert_eq!(
            codes(&errors),
            [("Password", "weak_password")],
            "{password}"
        );
        assert!(
            errors[0].message.starts_with(message),
            "{}",
            errors[0].message
        );
        assert!(!errors[0].message.contains(password));
    }
    let long = "x".repeat(1025);
    let mut cells = valid_full();
    cells[5] = &long;
    let errors =
        NewTechnician::parse(&full(cells), &rules(Layout::Full, None)).expect_err("too long");
    assert_eq!(codes(&errors), [("Password", "too_long")]);
}

#[test]
fn strength_zero_accepts_any_long_enough_password() {
    let mut rules = rules(Layout::Full, None);
    rules.min_password_strength = 0;
    let mut cells = valid_full();
    cells[5] = "password";
    assert!(NewTechnician::parse(&full(cells), &rules).is_ok());
}

#[test]
fn the_longest_allowed_password_is_accepted() {
    // Only its first 256 characters go to zxcvbn.
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789-_#";
    let mut seed = 12_345_u32;
    let long: String = (0..1024)
        .map(|_| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let index = (seed >> 16) as usize % ALPHABET.len();
            char::from(ALPHABET[index])
        })
        .collect();
    let mut cells = valid_full();
    cells[5] = &long;
    let tech = NewTechnician::parse(&full(cells), &rules(Layout::Full, None)).expect("valid");
    assert_eq!(plain(&tech).chars().count(), 1024);
}

#[test]
fn a_global_group_ignores_the_files_group_cell() {
    let mut cells = valid_full();
    cells[9] = "not a number";
    let tech = NewTechnician::parse(&full(cells), &rules(Layout::Full, Some(3))).expect("ok");
    assert_eq!(tech.group_id, GroupId::new(3));
}

#[test]
fn group_ids_must_be_positive_whole_numbers() {
    for (cell, code) in [
        ("", "required"),
        ("0", "invalid_group"),
        ("-4", "invalid_group"),
        ("1.5", "invalid_group"),
    ] {
        let mut cells = valid_full();
        cells[9] = cell;
        let errors =
            NewTechnician::parse(&full(cells), &rules(Layout::Full, None)).expect_err(cell);
        assert_eq!(codes(&errors), [("Tech Group ID", code)], "{cell:?}");
    }
}

#[test]
fn booleans_accept_the_documented_words_in_any_case() {
    for yes in ["Yes", "y", "TRUE", "1", "Enabled", " yes "] {
        assert_eq!(parse_bool(yes), Some(true), "{yes}");
    }
    for no in ["No", "N", "false", "0", "DISABLED"] {
        assert_eq!(parse_bool(no), Some(false), "{no}");
    }
    for other in ["", "maybe", "2", "on", "yess"] {
        assert_eq!(parse_bool(other), None, "{other}");
    }
}

#[test]
fn long_values_are_quoted_shortened() {
    let mut cells = valid_full();
    let long = "m".repeat(500);
    cells[6] = &long;
    let errors =
        NewTechnician::parse(&full(cells), &rules(Layout::Full, None)).expect_err("invalid");
    assert_eq!(
        errors[0].message,
        format!("'{}...' is not yes or no", "m".repeat(64))
    );
}

#[test]
fn email_keys_ignore_case_and_spaces() {
    assert_eq!(email_key("  Ana@Example.COM "), "ana@example.com");
}

/// A valid row of the full layout with Password Hash: `password` and `hash` in
/// their columns.
fn hashed_row(password: &str, hash: &str) -> Record {
    let mut cells: Vec<&str> = valid_full().to_vec();
    cells[5] = password;
    cells.insert(6, hash);
    record(&cells)
}

const BCRYPT: &str = "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";

#[test]
fn a_row_may_give_a_hash_instead_of_a_password() {
    let rules = rules(Layout::Hashed, None);
    let tech = NewTechnician::parse(&hashed_row("", BCRYPT), &rules).expect("valid");
    match &tech.credential {
        Credential::Hashed(hash) => assert_eq!(hash.as_str(), BCRYPT),
        Credential::Plain(_) => panic!("the hash became a password"),
    }
    assert_eq!(
        (tech.email.as_str(), tech.group_id),
        ("Ana@Example.com", GroupId::new(12))
    );
    // The password policy has no plaintext to judge: it does not apply.
    let mut strict = rules.clone();
    strict.min_password_length = 100;
    strict.min_password_strength = 4;
    assert!(NewTechnician::parse(&hashed_row("", BCRYPT), &strict).is_ok());
    // A row of the same layout with a password and no hash is as before.
    let tech = NewTechnician::parse(&hashed_row(STRONG, ""), &rules).expect("valid");
    assert_eq!(plain(&tech), STRONG);
}

#[test]
fn a_password_and_a_hash_together_conflict() {
    let errors = NewTechnician::parse(&hashed_row(STRONG, BCRYPT), &rules(Layout::Hashed, None))
        .expect_err("both");
    assert_eq!(codes(&errors), [("Password", "password_conflict")]);
    assert_eq!(
        errors[0].message,
        "give a password or a password hash, not both"
    );
    // Neither: the password is required, as in a file without the column.
    let errors = NewTechnician::parse(&hashed_row("", ""), &rules(Layout::Hashed, None))
        .expect_err("neither");
    assert_eq!(codes(&errors), [("Password", "required")]);
}

#[test]
fn a_bad_hash_is_invalid_hash_with_its_reason() {
    let rules = rules(Layout::Hashed, None);
    for (hash, reason) in [
        (
            "md5:5f4dcc3b5aa765d61d8327deb882cf99",
            "is not a password hash",
        ),
        (
            "$2b$20$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
            "cost is 20",
        ),
    ] {
        let errors = NewTechnician::parse(&hashed_row("", hash), &rules).expect_err(hash);
        assert_eq!(
            codes(&errors),
            [("Password Hash", "invalid_hash")],
            "{hash}"
        );
        assert!(errors[0].message.contains(reason), "{}", errors[0].message);
        assert!(!errors[0].message.contains(hash), "the hash is not quoted");
    }
    let long = format!("$2b${}", "x".repeat(600));
    let errors = NewTechnician::parse(&hashed_row("", &long), &rules).expect_err("long");
    assert_eq!(codes(&errors), [("Password Hash", "too_long")]);
}

#[test]
fn the_memo_judges_a_shared_password_once_and_keeps_the_rows_own_words_weak() {
    let memo = Arc::new(StrengthMemo::new());
    let mut rules = rules(Layout::Full, None);
    rules.strength_memo = Some(memo.clone());
    for n in 0..50 {
        let email = format!("tech{n}@example.com");
        let mut cells = valid_full();
        cells[2] = &email;
        cells[5] = "Welcome-To-Acme-2026";
        NewTechnician::parse(&full(cells), &rules).expect("strong enough");
    }
    assert_eq!(memo.judged(), 1);
    // A row whose password is its own email is still weak through the memo.
    let mut cells = valid_full();
    cells[5] = "Ana@Example.com";
    let errors = NewTechnician::parse(&full(cells), &rules).expect_err("weak");
    assert_eq!(codes(&errors), [("Password", "weak_password")]);
}

#[test]
fn an_administrators_email_follows_the_technicians_rule() {
    assert_eq!(check_email("  ana@acme.example "), Ok("ana@acme.example"));
    for bad in [
        "",
        "   ",
        "ana",
        "ana@acme",
        "Ana <ana@acme.example>",
        "ana@[10.0.0.1]",
    ] {
        let error = check_email(bad).expect_err(bad);
        assert_eq!(error.field, "Email", "{bad}");
    }
    let long = format!("{}@acme.example", "a".repeat(250));
    assert_eq!(check_email(&long).unwrap_err().code, "too_long");
}
