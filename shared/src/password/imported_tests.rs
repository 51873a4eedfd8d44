//! Known vectors for every accepted and refused form, and hashes made by each
//! algorithm's crate that verify their password after the import kept them.

use super::*;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};

const PASSWORD: &str = "Correct-Horse-Battery-9";

/// Fixed vectors: (hash, password, algorithm). The PBKDF2 and scrypt ones were
/// made with Python's hashlib (OpenSSL), the bcrypt one is OpenBSD's test
/// vector, the argon2id one the reference implementation's.
const KNOWN: &[(&str, &str, HashAlgorithm)] = &[
    (
        "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "password",
        HashAlgorithm::Argon2id,
    ),
    (
        "$pbkdf2-sha256$i=1000,l=32$cm9zdGVyLXNhbHQtMDAwMQ$aPtWOlntkj3vBK8zzos/0xtjwThQhkwN1ISOFvsoCtU",
        PASSWORD,
        HashAlgorithm::Pbkdf2Sha256,
    ),
    (
        "$pbkdf2-sha256$i=1000$cm9zdGVyLXNhbHQtMDAwMQ$aPtWOlntkj3vBK8zzos/0xtjwThQhkwN1ISOFvsoCtU",
        PASSWORD,
        HashAlgorithm::Pbkdf2Sha256,
    ),
    (
        "$scrypt$ln=10,r=8,p=1$cm9zdGVyLXNhbHQtMDAwMQ$6eMILT1q5dxsdw52Fy0CUH2yaH2onA/MIHt+3gufrUU",
        PASSWORD,
        HashAlgorithm::Scrypt,
    ),
    (
        "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        "U*U",
        HashAlgorithm::Bcrypt,
    ),
    (
        "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        "U*U",
        HashAlgorithm::Bcrypt,
    ),
    (
        "$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        "U*U",
        HashAlgorithm::Bcrypt,
    ),
];

/// Whether `hash` verifies `password` with the crate of its algorithm.
fn verifies(hash: &str, password: &str) -> bool {
    if hash.starts_with("$2") {
        return bcrypt::verify(password, hash).unwrap_or(false);
    }
    let parsed = PasswordHash::new(hash).expect("a PHC string");
    let password = password.as_bytes();
    match parsed.algorithm.as_str() {
        "argon2id" | "argon2i" => argon2::Argon2::default()
            .verify_password(password, &parsed)
            .is_ok(),
        "scrypt" => scrypt::Scrypt.verify_password(password, &parsed).is_ok(),
        "pbkdf2-sha256" => pbkdf2::Pbkdf2.verify_password(password, &parsed).is_ok(),
        other => panic!("no verifier for {other}"),
    }
}

#[test]
fn known_vectors_of_every_form_are_accepted_kept_and_verify() {
    for (text, password, algorithm) in KNOWN {
        let hash = ImportedHash::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(hash.algorithm(), *algorithm, "{text}");
        assert_eq!(hash.as_str(), *text, "kept byte for byte");
        assert!(verifies(hash.as_str(), password), "{text}");
        assert!(!verifies(hash.as_str(), "not-the-password"), "{text}");
        assert!(
            !format!("{hash:?}").contains(&text[8..]),
            "Debug hides the hash"
        );
    }
}

#[test]
fn hashes_made_by_each_crate_verify_their_password_once_imported() {
    let salt = SaltString::from_b64("cm9zdGVyLXNhbHQtMDAwMg").expect("salt");
    let mut made: Vec<(String, HashAlgorithm)> = Vec::new();
    for (algorithm, ours) in [
        (argon2::Algorithm::Argon2id, HashAlgorithm::Argon2id),
        (argon2::Algorithm::Argon2i, HashAlgorithm::Argon2i),
    ] {
        let params = argon2::Params::new(64, 2, 1, None).expect("params");
        let hasher = argon2::Argon2::new(algorithm, argon2::Version::V0x13, params);
        let hash = hasher
            .hash_password(PASSWORD.as_bytes(), &salt)
            .expect("argon2");
        made.push((hash.to_string(), ours));
    }
    let scrypt_params = scrypt::Params::new(10, 8, 1, 32).expect("params");
    let hash = scrypt::Scrypt
        .hash_password_customized(PASSWORD.as_bytes(), None, None, scrypt_params, &salt)
        .expect("scrypt");
    made.push((hash.to_string(), HashAlgorithm::Scrypt));
    let pbkdf2_params = pbkdf2::Params {
        rounds: 2_000,
        output_length: 32,
    };
    let hash = pbkdf2::Pbkdf2
        .hash_password_customized(
            PASSWORD.as_bytes(),
            Some(pbkdf2::Algorithm::Pbkdf2Sha256.ident()),
            None,
            pbkdf2_params,
            &salt,
        )
        .expect("pbkdf2");
    made.push((hash.to_string(), HashAlgorithm::Pbkdf2Sha256));
    for version in [
        bcrypt::Version::TwoA,
        bcrypt::Version::TwoB,
        bcrypt::Version::TwoY,
    ] {
        let hash = bcrypt::hash_with_result(PASSWORD, 4).expect("bcrypt");
        made.push((hash.format_for_version(version), HashAlgorithm::Bcrypt));
    }
    for (text, algorithm) in made {
        let hash = ImportedHash::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(hash.algorithm(), algorithm, "{text}");
        let stored = hash.into_string();
        assert_eq!(stored, text);
        assert!(verifies(&stored, PASSWORD), "{stored}");
    }
}

#[test]
fn every_refused_form_says_why_without_quoting_the_hash() {
    let salt = "cm9zdGVyLXNhbHQtMDAwMQ";
    let out = "aPtWOlntkj3vBK8zzos/0xtjwThQhkwN1ISOFvsoCtU";
    let argon = |params: &str| format!("$argon2id$v=19${params}${salt}${out}");
    let bcrypt_tail = "CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
    let cases: Vec<(String, &str)> = vec![
        ("Correct-Horse-Battery-9".into(), "is not a password hash"),
        ("$".into(), "is not a password hash"),
        (
            format!("$argon2d$v=19$m=65536,t=2,p=1${salt}${out}"),
            "'argon2d'",
        ),
        (
            format!("$pbkdf2-sha512$i=1000${salt}${out}"),
            "'pbkdf2-sha512'",
        ),
        (format!("$pbkdf2$i=1000${salt}${out}"), "'pbkdf2'"),
        (
            format!("$5$rounds=5000${salt}${out}"),
            "'5', which is not accepted",
        ),
        (
            "$1$saltsalt$qjXMvbEw8oaL.CzflDugX/".into(),
            "not a password hash",
        ),
        ("$argon2id$v=19$m=65536,t=2,p=1".into(), "has no salt"),
        (
            format!("$argon2id$v=19$m=65536,t=2,p=1${salt}"),
            "has no hash value",
        ),
        (
            format!("$argon2id$v=19$m=65536,t=2,p=1$c2FsdA${out}"),
            "fewer than 8",
        ),
        (
            format!("$argon2id$v=19$m=65536,t=2,p=1${salt}$c2hvcnQ"),
            "output size too short",
        ),
        (
            format!("$argon2id$v=19$m=65536,t=2,p=1${salt}$c2hvcnRzaG9ydA"),
            "fewer than 16",
        ),
        (
            format!("$argon2id$v=18$m=65536,t=2,p=1${salt}${out}"),
            "version 18",
        ),
        (argon("m=65536,t=2"), "p is missing"),
        (argon("m=65536,t=2,p=1,x=3"), "parameter 'x'"),
        (argon("m=4194304,t=1,p=1"), "memory m (KiB) is 4194304"),
        (argon("m=7,t=1,p=1"), "memory m (KiB) is 7"),
        (argon("m=65536,t=100,p=1"), "passes t is 100"),
        (argon("m=65536,t=0,p=1"), "passes t is 0"),
        (argon("m=65536,t=2,p=64"), "lanes p is 64"),
        (argon("m=262144,t=16,p=1"), "memory × passes"),
        (
            format!("$scrypt$ln=40,r=8,p=1${salt}${out}"),
            "ln (log2 of N) is 40",
        ),
        (
            format!("$scrypt$ln=20,r=8,p=1${salt}${out}"),
            "1024 MiB of memory",
        ),
        (format!("$scrypt$ln=17,r=8,p=16${salt}${out}"), "memory × p"),
        (format!("$scrypt$r=8,p=1${salt}${out}"), "ln is missing"),
        (
            format!("$pbkdf2-sha256$i=999${salt}${out}"),
            "iterations i is 999",
        ),
        (
            format!("$pbkdf2-sha256$i=99999999${salt}${out}"),
            "iterations i is 99999999",
        ),
        (
            format!("$pbkdf2-sha256$i=1000,l=64${salt}${out}"),
            "length l is 64",
        ),
        (format!("$2x$05${bcrypt_tail}"), "$2a$, $2b$ and $2y$"),
        (format!("$2$05${bcrypt_tail}"), "$2a$, $2b$ and $2y$"),
        (format!("$2b$03${bcrypt_tail}"), "cost is 3"),
        (format!("$2b$16${bcrypt_tail}"), "cost is 16"),
        (format!("$2b$31${bcrypt_tail}"), "cost is 31"),
        (format!("$2b$x5${bcrypt_tail}"), "not two digits"),
        (format!("$2b$05${bcrypt_tail}x"), "61 characters"),
        (
            "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe!".to_owned(),
            "outside bcrypt's base64",
        ),
        (
            "$2b$05$CCCCCCCCCCCCCCCCCCCCCCE5YPO9kmyuRGyh0XouQYb4YMJKvyOeW".to_owned(),
            "does not decode exactly",
        ),
        (
            "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeX".to_owned(),
            "does not decode exactly",
        ),
        (
            format!("$argon2id${}", "a".repeat(600)),
            "no accepted hash is over 512",
        ),
    ];
    for (text, reason) in cases {
        let error = ImportedHash::parse(&text).expect_err(&text);
        assert!(error.contains(reason), "{text}: {error}");
        assert!(
            !error.contains(salt) && !error.contains(bcrypt_tail),
            "{error}"
        );
    }
}

#[test]
fn the_bounds_themselves_are_accepted() {
    let salt = "cm9zdGVyLXNhbHQtMDAwMQ";
    let out = "aPtWOlntkj3vBK8zzos/0xtjwThQhkwN1ISOFvsoCtU";
    for params in ["m=262144,t=4,p=16", "m=65536,t=16,p=1", "m=8,t=1,p=1"] {
        let text = format!("$argon2id$v=19${params}${salt}${out}");
        assert!(ImportedHash::parse(&text).is_ok(), "{text}");
    }
    for params in ["ln=18,r=8,p=4", "ln=1,r=1,p=1", "ln=17"] {
        let text = format!("$scrypt${params}${salt}${out}");
        assert!(ImportedHash::parse(&text).is_ok(), "{text}");
    }
    for i in [1_000, 10_000_000] {
        let text = format!("$pbkdf2-sha256$i={i}${salt}${out}");
        assert!(ImportedHash::parse(&text).is_ok(), "{text}");
    }
    let text = "$2b$15$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
    assert!(ImportedHash::parse(text).is_ok());
}
