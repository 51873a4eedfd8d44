//! Password hashes another system made, imported as they are (the `Password
//! Hash` column): a PHC string of argon2id, argon2i, scrypt or PBKDF2-SHA256,
//! or a bcrypt `$2a$`/`$2b$`/`$2y$` string.
//!
//! The rule kept here: an [`ImportedHash`] exists only for a string of one of
//! those forms whose every part decodes and whose cost parameters are within
//! bounds, so that a hostile file cannot store a hash whose later verification
//! costs unbounded memory or time. The bounds are each algorithm's common
//! ceilings, well above what any real deployment uses; they are the
//! `MAX_*` constants below. The hash is stored byte for byte as given and never
//! hashed again. Reasons never quote the hash.

use argon2::password_hash::{Ident, ParamsString, PasswordHash};

/// Longest hash accepted (a PHC string of the largest salt and output is ~250).
pub const MAX_HASH_CHARS: usize = 512;
/// Argon2: most memory a hash may ask for, in KiB (256 MiB).
pub const MAX_ARGON2_MEMORY_KIB: u32 = 262_144;
/// Argon2: most passes.
pub const MAX_ARGON2_ITERATIONS: u32 = 16;
/// Argon2 and scrypt: most lanes (parallelism).
pub const MAX_LANES: u32 = 16;
/// Argon2: most memory × passes, in KiB (four passes over 256 MiB).
pub const MAX_ARGON2_WORK_KIB: u64 = 1_048_576;
/// scrypt: most memory a hash may ask for, 128·r·2^ln bytes (256 MiB).
pub const MAX_SCRYPT_MEMORY_BYTES: u64 = 256 << 20;
/// scrypt: most memory × lanes, 128·r·2^ln·p bytes (1 GiB).
pub const MAX_SCRYPT_WORK_BYTES: u64 = 1 << 30;
/// scrypt: largest block size r.
pub const MAX_SCRYPT_R: u32 = 32;
/// PBKDF2-SHA256: fewest and most iterations.
pub const PBKDF2_ITERATIONS: std::ops::RangeInclusive<u32> = 1_000..=10_000_000;
/// bcrypt: most cost (2^15 rounds, about three seconds).
pub const MAX_BCRYPT_COST: u32 = 15;
/// Shortest salt and output, in bytes, of the PHC forms.
const MIN_SALT_BYTES: usize = 8;
const MIN_OUTPUT_BYTES: usize = 16;

/// The algorithm of an accepted hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgorithm {
    Argon2id,
    Argon2i,
    Scrypt,
    Pbkdf2Sha256,
    Bcrypt,
}

/// A password hash checked for form and bounded parameters, kept as given.
#[derive(Clone, PartialEq, Eq)]
pub struct ImportedHash {
    text: String,
    algorithm: HashAlgorithm,
}

impl std::fmt::Debug for ImportedHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ImportedHash({:?}, ***)", self.algorithm)
    }
}

impl ImportedHash {
    /// Checks `text`; the error is a sentence saying what is wrong with it
    /// (never quoting it).
    pub fn parse(text: &str) -> Result<Self, String> {
        let length = text.chars().count();
        if length > MAX_HASH_CHARS {
            return Err(format!(
                "is {length} characters; no accepted hash is over {MAX_HASH_CHARS}"
            ));
        }
        let algorithm = if text.starts_with("$2") {
            bcrypt(text)?
        } else {
            phc(text)?
        };
        Ok(Self {
            text: text.to_owned(),
            algorithm,
        })
    }

    pub fn algorithm(&self) -> HashAlgorithm {
        self.algorithm
    }

    /// The hash as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn into_string(self) -> String {
        self.text
    }
}

const FORMS: &str =
    "a PHC string of argon2id, argon2i, scrypt or pbkdf2-sha256, or bcrypt $2a$, $2b$ or $2y$";

fn phc(text: &str) -> Result<HashAlgorithm, String> {
    let hash =
        PasswordHash::new(text).map_err(|e| format!("is not a password hash ({FORMS}): {e}"))?;
    let algorithm = match hash.algorithm.as_str() {
        "argon2id" => HashAlgorithm::Argon2id,
        "argon2i" => HashAlgorithm::Argon2i,
        "scrypt" => HashAlgorithm::Scrypt,
        "pbkdf2-sha256" => HashAlgorithm::Pbkdf2Sha256,
        other => {
            return Err(format!(
                "uses the algorithm '{}', which is not accepted ({FORMS})",
                shown(other)
            ));
        }
    };
    let name = hash.algorithm;
    let salt = hash.salt.ok_or_else(|| format!("{name}: has no salt"))?;
    let mut salt_bytes = [0_u8; 64];
    let salt_len = salt
        .decode_b64(&mut salt_bytes)
        .map_err(|_| format!("{name}: the salt is not unpadded base64"))?
        .len();
    if salt_len < MIN_SALT_BYTES {
        return Err(format!(
            "{name}: the salt is {salt_len} bytes, fewer than {MIN_SALT_BYTES}"
        ));
    }
    let output = hash
        .hash
        .ok_or_else(|| format!("{name}: has no hash value after the salt"))?;
    if output.len() < MIN_OUTPUT_BYTES {
        return Err(format!(
            "{name}: the hash value is {} bytes, fewer than {MIN_OUTPUT_BYTES}",
            output.len()
        ));
    }
    match algorithm {
        HashAlgorithm::Argon2id | HashAlgorithm::Argon2i => argon2(name, &hash)?,
        HashAlgorithm::Scrypt => scrypt(name, &hash)?,
        HashAlgorithm::Pbkdf2Sha256 => pbkdf2(name, &hash, output.len())?,
        HashAlgorithm::Bcrypt => unreachable!("bcrypt is not a PHC form"),
    }
    Ok(algorithm)
}

/// The parameters of `hash` as numbers, each of `allowed`; `required` must all be there.
fn numbers(
    name: Ident<'_>,
    params: &ParamsString,
    allowed: &[&str],
    required: &[&str],
) -> Result<Vec<Option<u64>>, String> {
    let mut values = vec![None; allowed.len()];
    for (key, value) in params.iter() {
        let Some(at) = allowed.iter().position(|a| *a == key.as_str()) else {
            return Err(format!(
                "{name}: has the parameter '{}', expected only {}",
                shown(key.as_str()),
                allowed.join(", ")
            ));
        };
        let number: u64 = value.as_str().parse().map_err(|_| {
            format!(
                "{name}: the parameter {} is not a whole number",
                allowed[at]
            )
        })?;
        values[at] = Some(number);
    }
    for key in required {
        if let Some(at) = allowed.iter().position(|a| a == key)
            && values[at].is_none()
        {
            return Err(format!("{name}: the parameter {key} is missing"));
        }
    }
    Ok(values)
}

fn within(name: Ident<'_>, what: &str, value: u64, min: u64, max: u64) -> Result<u64, String> {
    if value < min || value > max {
        return Err(format!(
            "{name}: {what} is {value}, outside the accepted {min} to {max}"
        ));
    }
    Ok(value)
}

fn argon2(name: Ident<'_>, hash: &PasswordHash<'_>) -> Result<(), String> {
    if let Some(version) = hash.version
        && version != 0x10
        && version != 0x13
    {
        return Err(format!("{name}: version {version} is not 16 or 19"));
    }
    let values = numbers(name, &hash.params, &["m", "t", "p"], &["m", "t", "p"])?;
    let [m, t, p] = [values[0], values[1], values[2]].map(Option::unwrap_or_default);
    let p = within(name, "the lanes p", p, 1, u64::from(MAX_LANES))?;
    let m = within(
        name,
        "the memory m (KiB)",
        m,
        8 * p,
        u64::from(MAX_ARGON2_MEMORY_KIB),
    )?;
    let t = within(name, "the passes t", t, 1, u64::from(MAX_ARGON2_ITERATIONS))?;
    if m * t > MAX_ARGON2_WORK_KIB {
        return Err(format!(
            "{name}: memory × passes is {} KiB, over the accepted {MAX_ARGON2_WORK_KIB}",
            m * t
        ));
    }
    Ok(())
}

fn scrypt(name: Ident<'_>, hash: &PasswordHash<'_>) -> Result<(), String> {
    let values = numbers(name, &hash.params, &["ln", "r", "p"], &["ln"])?;
    // scrypt's own defaults when r or p is left out.
    let ln = within(name, "ln (log2 of N)", values[0].unwrap_or_default(), 1, 30)?;
    let r = within(
        name,
        "r",
        values[1].unwrap_or(8),
        1,
        u64::from(MAX_SCRYPT_R),
    )?;
    let p = within(name, "p", values[2].unwrap_or(1), 1, u64::from(MAX_LANES))?;
    let memory = 128 * r * (1_u64 << ln);
    if memory > MAX_SCRYPT_MEMORY_BYTES {
        return Err(format!(
            "{name}: needs {} MiB of memory (128·r·2^ln), over the accepted {}",
            memory >> 20,
            MAX_SCRYPT_MEMORY_BYTES >> 20
        ));
    }
    if memory * p > MAX_SCRYPT_WORK_BYTES {
        return Err(format!(
            "{name}: memory × p is {} MiB, over the accepted {}",
            (memory * p) >> 20,
            MAX_SCRYPT_WORK_BYTES >> 20
        ));
    }
    Ok(())
}

fn pbkdf2(name: Ident<'_>, hash: &PasswordHash<'_>, output_len: usize) -> Result<(), String> {
    if hash.version.is_some() {
        return Err(format!("{name}: takes no version"));
    }
    let values = numbers(name, &hash.params, &["i", "l"], &["i"])?;
    within(
        name,
        "the iterations i",
        values[0].unwrap_or_default(),
        u64::from(*PBKDF2_ITERATIONS.start()),
        u64::from(*PBKDF2_ITERATIONS.end()),
    )?;
    if let Some(length) = values[1]
        && length != output_len as u64
    {
        return Err(format!(
            "{name}: the length l is {length}, but the hash value is {output_len} bytes"
        ));
    }
    Ok(())
}

/// bcrypt's alphabet: `./`, then `A-Z`, `a-z`, `0-9`.
const BCRYPT_ALPHABET: &[u8; 64] =
    b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `$2a$`, `$2b$` or `$2y$`, two cost digits, `$`, 22 salt and 31 hash characters.
fn bcrypt(text: &str) -> Result<HashAlgorithm, String> {
    let bytes = text.as_bytes();
    let name = "bcrypt";
    let prefix_ok = bytes.len() > 4 && matches!(bytes[2], b'a' | b'b' | b'y') && bytes[3] == b'$';
    if !prefix_ok {
        return Err(format!(
            "{name}: only the $2a$, $2b$ and $2y$ forms are accepted"
        ));
    }
    if bytes.len() != 60 || bytes[6] != b'$' {
        return Err(format!(
            "{name}: expected $2b$, two cost digits, '$' and 53 characters (60 in all), found {} characters",
            text.chars().count()
        ));
    }
    let cost = std::str::from_utf8(&bytes[4..6])
        .ok()
        .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|c| c.parse::<u32>().ok())
        .ok_or_else(|| format!("{name}: the cost is not two digits"))?;
    if !(4..=MAX_BCRYPT_COST).contains(&cost) {
        return Err(format!(
            "{name}: the cost is {cost}, outside the accepted 4 to {MAX_BCRYPT_COST}"
        ));
    }
    let digit = |b: &u8| BCRYPT_ALPHABET.iter().position(|a| a == b);
    let (salt, output) = bytes[7..].split_at(22);
    if salt.iter().chain(output).any(|b| digit(b).is_none()) {
        return Err(format!(
            "{name}: the salt and hash hold a character outside bcrypt's base64 (./A-Za-z0-9)"
        ));
    }
    // 22 characters carry 16 bytes and 31 carry 23: the last one's spare bits are 0.
    let spare =
        |last: Option<&u8>, bits: usize| last.and_then(digit).is_some_and(|d| d % (1 << bits) == 0);
    if !spare(salt.last(), 4) || !spare(output.last(), 2) {
        return Err(format!(
            "{name}: the salt or hash does not decode exactly (its last character is off)"
        ));
    }
    Ok(HashAlgorithm::Bcrypt)
}

/// An algorithm or parameter name from the file, as a reason may show it.
fn shown(text: &str) -> String {
    text.chars().take(32).collect()
}

#[cfg(test)]
#[path = "imported_tests.rs"]
mod tests;
