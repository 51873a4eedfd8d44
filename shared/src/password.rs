//! Passwords: the plaintext wrapper and the hashing scheme.
//!
//! The rule kept here: a plaintext password never leaves this type by accident.
//! [`Password`] prints as `Password(***)`, cannot be serialized, and is read only
//! through [`Password::expose`]. What is stored is a PHC string made by
//! [`HashScheme::hash`] (Argon2id by default, with OWASP's minimum cost), or a
//! hash an import file gave ([`ImportedHash`], checked in `imported.rs`).

mod imported;
mod memory;

pub use imported::{HashAlgorithm, ImportedHash, MAX_HASH_CHARS};
pub use memory::HashMemory;

use std::fmt;
use std::str::FromStr;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::rngs::OsRng;

/// A plaintext password. `Debug` and `Display` are redacted and there is no
/// `Serialize`, so it cannot end up in a log line or a response by mistake.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Wraps a plaintext password.
    pub fn new(s: String) -> Self {
        Self(s)
    }

    /// The plaintext, for hashing and strength checks only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// What a valid row gives to sign in with: a password to hash, or a hash
/// another system made, stored as given and never hashed again.
#[derive(Debug, Clone)]
pub enum Credential {
    Plain(Password),
    Hashed(ImportedHash),
}

/// How passwords are hashed, parsed from `ROSTER_PASSWORD_HASH`.
///
/// The only accepted form is `argon2id:m=KIB,t=ITERATIONS,p=LANES` (keys in any
/// order; a key left out takes its default). The default,
/// [`HashScheme::default_owasp`], is `argon2id:m=19456,t=2,p=1`.
#[derive(Clone, Debug)]
pub struct HashScheme {
    params: Params,
}

impl HashScheme {
    /// The text form of the default scheme.
    pub const DEFAULT: &'static str = "argon2id:m=19456,t=2,p=1";

    /// Parses a scheme such as `argon2id:m=19456,t=2,p=1`; the error says what is wrong.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (algorithm, costs) = s.split_once(':').unwrap_or((s, ""));
        if !algorithm.eq_ignore_ascii_case("argon2id") {
            return Err(format!(
                "unsupported password hash '{algorithm}': expected argon2id, e.g. '{}'",
                Self::DEFAULT
            ));
        }

        let (mut m, mut t, mut p) = (None, None, None);
        for part in costs.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("password hash cost '{part}' is not KEY=NUMBER"))?;
            let number: u32 = value.trim().parse().map_err(|_| {
                format!("password hash cost '{part}': '{value}' is not a whole number")
            })?;
            let slot = match key.trim() {
                "m" => &mut m,
                "t" => &mut t,
                "p" => &mut p,
                other => {
                    return Err(format!(
                        "unknown password hash cost '{other}': expected m (memory in KiB), t (iterations) or p (lanes)"
                    ));
                }
            };
            if slot.replace(number).is_some() {
                return Err(format!(
                    "password hash cost '{}' is given twice",
                    key.trim()
                ));
            }
        }

        let params = Params::new(
            m.unwrap_or(Params::DEFAULT_M_COST),
            t.unwrap_or(Params::DEFAULT_T_COST),
            p.unwrap_or(Params::DEFAULT_P_COST),
            None,
        )
        .map_err(|e| format!("invalid argon2id costs in '{s}': {e}"))?;
        Ok(Self { params })
    }

    /// Argon2id with m=19456 KiB, t=2, p=1: OWASP's recommended minimum.
    pub fn default_owasp() -> Self {
        Self {
            params: Params::default(),
        }
    }

    /// Hashes a password with a random 16-byte salt into a PHC string
    /// (`$argon2id$v=19$m=19456,t=2,p=1$SALT$HASH`).
    ///
    /// This is CPU-bound and blocking (about 23 ms with the default costs):
    /// call it from a blocking pool (`tokio::task::spawn_blocking`), never on
    /// the async runtime's threads.
    ///
    /// # Panics
    ///
    /// Only if Argon2 refuses a password over 4 GiB; the validator caps
    /// passwords at 1,024 characters, so that cannot happen to a parsed row.
    pub fn hash(&self, password: &Password) -> String {
        let salt = SaltString::generate(&mut OsRng);
        self.hasher()
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .expect("argon2id accepts any password under 4 GiB with parsed costs")
    }

    /// [`HashScheme::hash`] on tokio's blocking pool: how a request handler
    /// hashes one password without holding up the async threads. Fails only
    /// when the blocking task panicked or the runtime is shutting down.
    pub async fn hash_blocking(
        &self,
        password: Password,
    ) -> Result<String, tokio::task::JoinError> {
        let scheme = self.clone();
        tokio::task::spawn_blocking(move || scheme.hash(&password)).await
    }

    /// Like [`HashScheme::hash`], but works in `memory`, which is grown to the
    /// scheme's memory cost once and reused by later calls. A hashing thread that
    /// keeps its own `memory` allocates nothing per password: allocating and
    /// freeing the whole cost (19 MiB at OWASP cost) for every hash makes the
    /// allocator keep hundreds of megabytes it does not give back. On Linux the
    /// memory is in huge pages ([`HashMemory`]).
    pub fn hash_in(&self, password: &Password, memory: &mut HashMemory) -> String {
        self.phc_in(password, memory.blocks(self.params.block_count()))
            .expect("argon2id accepts any password under 4 GiB with parsed costs")
    }

    fn phc_in(
        &self,
        password: &Password,
        memory: &mut [argon2::Block],
    ) -> argon2::password_hash::Result<String> {
        let salt = SaltString::generate(&mut OsRng);
        let mut salt_bytes = [0u8; 64];
        let salt_bytes = salt.decode_b64(&mut salt_bytes)?;
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        self.hasher().hash_password_into_with_memory(
            password.expose().as_bytes(),
            salt_bytes,
            &mut out,
            memory,
        )?;
        Ok(PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: argon2::password_hash::ParamsString::try_from(&self.params)?,
            salt: Some(salt.as_salt()),
            hash: Some(argon2::password_hash::Output::new(&out)?),
        }
        .to_string())
    }

    /// Whether `password` matches the PHC string `phc` (made by any scheme's
    /// [`HashScheme::hash`]; the costs are read from `phc`). A malformed `phc`
    /// is simply no match. Blocking, like [`HashScheme::hash`].
    pub fn verify(password: &str, phc: &str) -> bool {
        PasswordHash::new(phc).is_ok_and(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
    }

    fn hasher(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }
}

impl Default for HashScheme {
    fn default() -> Self {
        Self::default_owasp()
    }
}

impl FromStr for HashScheme {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for HashScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "argon2id:m={},t={},p={}",
            self.params.m_cost(),
            self.params.t_cost(),
            self.params.p_cost()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_redacted_in_debug_and_display() {
        let password = Password::new("hunter2-secret".to_owned());
        assert_eq!(format!("{password:?}"), "Password(***)");
        assert_eq!(password.to_string(), "Password(***)");
        assert_eq!(password.expose(), "hunter2-secret");
    }

    #[test]
    fn the_default_scheme_is_owasps_argon2id() {
        let scheme = HashScheme::parse(HashScheme::DEFAULT).expect("default parses");
        assert_eq!(scheme.to_string(), HashScheme::DEFAULT);
        assert_eq!(HashScheme::default_owasp().to_string(), HashScheme::DEFAULT);
        let reordered: HashScheme = " argon2id:p=1, t=3 ,m=8192".parse().expect("parses");
        assert_eq!(reordered.to_string(), "argon2id:m=8192,t=3,p=1");
        let bare = HashScheme::parse("argon2id").expect("bare algorithm parses");
        assert_eq!(bare.to_string(), HashScheme::DEFAULT);
    }

    #[test]
    fn other_schemes_are_refused_with_a_reason() {
        for (text, needle) in [
            ("bcrypt:cost=12", "unsupported password hash 'bcrypt'"),
            ("argon2id:m=19456,x=2", "unknown password hash cost 'x'"),
            ("argon2id:m=lots", "is not a whole number"),
            ("argon2id:m=1,m=2", "given twice"),
            ("argon2id:m", "is not KEY=NUMBER"),
            ("argon2id:t=0", "invalid argon2id costs"),
            ("", "unsupported password hash"),
        ] {
            let error = HashScheme::parse(text).expect_err(text);
            assert!(error.contains(needle), "{text}: {error}");
        }
    }

    #[test]
    fn a_hash_verifies_only_its_password() {
        // Cheap costs keep the test fast; verify reads the costs from the hash.
        let scheme = HashScheme::parse("argon2id:m=64,t=1,p=1").expect("parses");
        let password = Password::new("Correct-Horse-Battery-9".to_owned());
        let phc = scheme.hash(&password);
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{phc}");
        assert!(!phc.contains(password.expose()));
        assert!(HashScheme::verify(password.expose(), &phc));
        assert!(!HashScheme::verify("wrong", &phc));
        assert!(!HashScheme::verify(password.expose(), "not a phc string"));
        // A fresh salt each time.
        assert_ne!(phc, scheme.hash(&password));
    }

    #[test]
    fn hashing_in_reused_memory_gives_verifiable_distinct_hashes() {
        let scheme: HashScheme = "argon2id:m=256,t=1,p=1".parse().unwrap();
        let mut memory = HashMemory::new();
        let password = Password::new("Reused-Memory-Works-42".into());
        let first = scheme.hash_in(&password, &mut memory);
        let second = scheme.hash_in(&password, &mut memory);
        assert!(
            first.starts_with("$argon2id$v=19$m=256,t=1,p=1$"),
            "{first}"
        );
        assert_ne!(first, second, "a new salt each time");
        assert!(HashScheme::verify("Reused-Memory-Works-42", &first));
        assert!(HashScheme::verify("Reused-Memory-Works-42", &second));
        assert!(!HashScheme::verify("Reused-Memory-Works-43", &first));
        // A larger cost in the same memory (it grows), then the small one again.
        let owasp = HashScheme::default_owasp();
        let large = owasp.hash_in(&password, &mut memory);
        assert!(HashScheme::verify("Reused-Memory-Works-42", &large));
        let third = scheme.hash_in(&password, &mut memory);
        assert!(HashScheme::verify("Reused-Memory-Works-42", &third));
    }
}
