//! The password strength estimate (zxcvbn), at next to no cost per row.
//!
//! The rule kept here: the score is the one zxcvbn gives the password with the
//! row's name, nickname and email as user inputs, computed as cheaply as that
//! allows. zxcvbn uses user inputs only as one more dictionary, matched
//! against substrings of the lowercased password (also reversed, also with
//! l33t substitutions). When no input can occur in the password that way
//! (checked in a few microseconds, [`could_contain`]), the score is the
//! password's own, the same for every row: it is judged once per distinct
//! password and import ([`StrengthMemo`]), so a first password shared by every
//! row of a file costs one estimate. Only a row whose password may hold its
//! own name or email pays for a full estimate.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;

/// Longest password (in characters) handed to zxcvbn: its cost grows quickly
/// with length, and a prefix this long already tells a weak password.
pub(super) const STRENGTH_CHECK_MAX_CHARS: usize = 256;
/// Most distinct passwords one memo keeps (32-byte digest and a score each);
/// past it, new passwords are judged but not kept.
const MEMO_MAX_ENTRIES: usize = 200_000;

/// The scores of an import's distinct passwords, without user inputs, keyed
/// by the SHA-256 of the password (the memo holds no plaintext).
#[derive(Default)]
pub struct StrengthMemo {
    scores: Mutex<HashMap<[u8; 32], u8>>,
    judged: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for StrengthMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StrengthMemo")
            .field("judged", &self.judged())
            .finish_non_exhaustive()
    }
}

impl StrengthMemo {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many full estimates this memo has made.
    pub fn judged(&self) -> u64 {
        self.judged.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn score(&self, password: &str) -> u8 {
        let key: [u8; 32] = Sha256::digest(password.as_bytes()).into();
        if let Some(score) = lock(&self.scores).get(&key) {
            return *score;
        }
        // Estimated outside the lock: two threads may judge the same password
        // once each, never a row more than once.
        let score = estimate(password, &[]);
        self.judged
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut scores = lock(&self.scores);
        if scores.len() < MEMO_MAX_ENTRIES {
            scores.insert(key, score);
        }
        score
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The zxcvbn score (0-4) of `password` (its first
/// [`STRENGTH_CHECK_MAX_CHARS`] characters) with `inputs` as user inputs,
/// through `memo` when none of them can occur in it.
pub(super) fn score(password: &str, inputs: &[&str], memo: Option<&StrengthMemo>) -> u8 {
    let password = prefix(password, STRENGTH_CHECK_MAX_CHARS);
    let inputs: Vec<&str> = inputs
        .iter()
        .map(|input| prefix(input, STRENGTH_CHECK_MAX_CHARS))
        .collect();
    let lowered: Vec<char> = password.to_lowercase().chars().collect();
    let personal = inputs.iter().any(|input| {
        let word: Vec<char> = input.to_lowercase().chars().collect();
        could_contain(&lowered, &word)
    });
    match memo {
        Some(memo) if !personal => memo.score(password),
        _ => estimate(password, &inputs),
    }
}

fn estimate(password: &str, inputs: &[&str]) -> u8 {
    u8::from(zxcvbn::zxcvbn(password, inputs).score())
}

/// zxcvbn's l33t table: the characters that may stand for a letter.
fn l33t(letter: char) -> &'static [char] {
    match letter {
        'a' => &['4', '@'],
        'b' => &['8'],
        'c' => &['(', '{', '[', '<'],
        'e' => &['3'],
        'g' => &['6', '9'],
        'i' => &['1', '!', '|'],
        'l' => &['1', '|', '7'],
        'o' => &['0'],
        's' => &['$', '5'],
        't' => &['+', '7'],
        'x' => &['%'],
        'z' => &['2'],
        _ => &[],
    }
}

/// Whether `word` may occur in `password` (both lowercased) as zxcvbn's
/// dictionary matcher could find it: forwards or reversed, each character as
/// itself or as one of its l33t stand-ins. A superset of zxcvbn's matches (it
/// allows one stand-in per letter per substitution), so `false` is sure.
pub(super) fn could_contain(password: &[char], word: &[char]) -> bool {
    if word.is_empty() || word.len() > password.len() {
        return false;
    }
    let stands_for = |p: char, w: char| p == w || l33t(w).contains(&p);
    let found = |word: &mut dyn Iterator<Item = char>, start: usize| {
        word.zip(&password[start..]).all(|(w, &p)| stands_for(p, w))
    };
    (0..=password.len() - word.len()).any(|start| {
        found(&mut word.iter().copied(), start) || found(&mut word.iter().rev().copied(), start)
    })
}

/// The first `max` characters of `value`.
pub(super) fn prefix(value: &str, max: usize) -> &str {
    value
        .char_indices()
        .nth(max)
        .map_or(value, |(end, _)| &value[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(text: &str) -> Vec<char> {
        text.chars().collect()
    }

    #[test]
    fn names_are_found_plain_reversed_and_in_l33t() {
        let password = chars("xx4n4-s1lv4yy");
        assert!(could_contain(&password, &chars("ana")));
        assert!(could_contain(&password, &chars("silva")));
        assert!(could_contain(&chars("avlis!"), &chars("silva")), "reversed");
        assert!(!could_contain(&password, &chars("bob")));
        assert!(!could_contain(&chars("ab"), &chars("abc")));
        assert!(!could_contain(&password, &[]));
    }

    #[test]
    fn the_memo_gives_zxcvbns_own_score_and_judges_a_password_once() {
        let memo = StrengthMemo::new();
        let about = [
            "Ana Silva",
            "",
            "ana.silva@example.com",
            "ana.silva",
            "Ana",
            "Silva",
        ];
        for password in [
            "Correct-Horse-Battery-9",
            "password",
            "Tr0ub4dor&3",
            "AnaSilva2024!",
            "ana.silva@example.com",
            "4v1l5-4n4-q",
            "qwertyuiop",
            "zxcvbnm,./",
        ] {
            let inputs: Vec<&str> = about.iter().copied().filter(|i| !i.is_empty()).collect();
            let full = estimate(password, &inputs);
            assert_eq!(score(password, &inputs, Some(&memo)), full, "{password}");
            assert_eq!(score(password, &inputs, None), full, "{password}");
        }
        let judged = memo.judged();
        for row in 0..100 {
            let email = format!("tech{row}@example.com");
            let inputs = [email.as_str(), "Tech Person"];
            let shared = "Welcome-To-Acme-2026";
            assert_eq!(
                score(shared, &inputs, Some(&memo)),
                estimate(shared, &inputs)
            );
        }
        assert_eq!(
            memo.judged(),
            judged + 1,
            "a shared password is judged once"
        );
    }
}
