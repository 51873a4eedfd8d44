//! Every machine `code` an error answer carries, with the HTTP status it comes
//! with: the one list of them. docs/api.md's "Error codes" table is checked
//! against [`ErrorCode::ALL`] by a test, so the two cannot drift apart.

use axum::http::StatusCode;

/// A stable machine code of an error answer (`code` in problem+json).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// No valid credentials: a missing or unknown token, no live session.
    Unauthorized,
    /// Sign-in with a wrong email or password (the same answer for both).
    InvalidCredentials,
    /// Authenticated, but not allowed: a role, a scope, a service token.
    Forbidden,
    /// A change made with the session cookie without its `X-CSRF-Token`.
    Csrf,
    /// No such resource (another organization's objects included).
    NotFound,
    /// A request that is not what the route takes. 422; 400 when it cannot
    /// be parsed at all, 415 when a JSON body is not declared as JSON.
    InvalidRequest,
    /// A group id that names no group of the organization.
    UnknownGroup,
    /// A route that needs `group_id` got none.
    GroupRequired,
    /// A password the organization's policy refuses.
    WeakPassword,
    /// An upload with a header and no rows.
    EmptyFile,
    /// An email another technician or administrator already has.
    EmailTaken,
    /// No free license seat.
    LicenseUnavailable,
    /// An `Idempotency-Key` that names another administrator's import.
    IdempotencyKeyUsed,
    /// A second snapshot of a source while one is in progress.
    SyncInProgress,
    /// An approval of a run that is not waiting for one.
    NotAwaitingApproval,
    /// A cancel of an import that has already finished.
    AlreadyFinished,
    /// A result spreadsheet asked for before the import has finished.
    NotReady,
    /// An upload that is not CSV, JSON or xlsx (a snapshot: not JSON).
    UnsupportedFormat,
    /// An upload over `ROSTER_MAX_UPLOAD_BYTES`.
    PayloadTooLarge,
    /// Too many requests of a kind (active imports, sign-in failures).
    RateLimited,
    /// A dependency (database, object store, queue) or the server's
    /// connection capacity is not available for now; try again.
    Unavailable,
    /// A fault on the server's side; the detail is in its log only.
    Internal,
}

impl ErrorCode {
    /// Every code, in the order docs/api.md lists them.
    pub const ALL: [ErrorCode; 22] = [
        ErrorCode::Unauthorized,
        ErrorCode::InvalidCredentials,
        ErrorCode::Forbidden,
        ErrorCode::Csrf,
        ErrorCode::NotFound,
        ErrorCode::InvalidRequest,
        ErrorCode::UnknownGroup,
        ErrorCode::GroupRequired,
        ErrorCode::WeakPassword,
        ErrorCode::EmptyFile,
        ErrorCode::EmailTaken,
        ErrorCode::LicenseUnavailable,
        ErrorCode::IdempotencyKeyUsed,
        ErrorCode::SyncInProgress,
        ErrorCode::NotAwaitingApproval,
        ErrorCode::AlreadyFinished,
        ErrorCode::NotReady,
        ErrorCode::UnsupportedFormat,
        ErrorCode::PayloadTooLarge,
        ErrorCode::RateLimited,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
    ];

    /// The code as it appears in `code` and in the problem's `type` URL.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::InvalidCredentials => "invalid_credentials",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::Csrf => "csrf",
            ErrorCode::NotFound => "not_found",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::UnknownGroup => "unknown_group",
            ErrorCode::GroupRequired => "group_required",
            ErrorCode::WeakPassword => "weak_password",
            ErrorCode::EmptyFile => "empty_file",
            ErrorCode::EmailTaken => "email_taken",
            ErrorCode::LicenseUnavailable => "license_unavailable",
            ErrorCode::IdempotencyKeyUsed => "idempotency_key_used",
            ErrorCode::SyncInProgress => "sync_in_progress",
            ErrorCode::NotAwaitingApproval => "not_awaiting_approval",
            ErrorCode::AlreadyFinished => "already_finished",
            ErrorCode::NotReady => "not_ready",
            ErrorCode::UnsupportedFormat => "unsupported_format",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }

    /// The status an answer with this code has (only `invalid_request` is
    /// also given with 400 or 415, by the body and query extractors).
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::Unauthorized | ErrorCode::InvalidCredentials => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden | ErrorCode::Csrf => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::InvalidRequest
            | ErrorCode::UnknownGroup
            | ErrorCode::GroupRequired
            | ErrorCode::WeakPassword
            | ErrorCode::EmptyFile => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::EmailTaken
            | ErrorCode::LicenseUnavailable
            | ErrorCode::IdempotencyKeyUsed
            | ErrorCode::SyncInProgress
            | ErrorCode::NotAwaitingApproval
            | ErrorCode::AlreadyFinished
            | ErrorCode::NotReady => StatusCode::CONFLICT,
            ErrorCode::UnsupportedFormat => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/api.md's "Error codes" table: `| `code` | status | meaning |`.
    fn documented() -> Vec<(String, u16)> {
        let doc = include_str!("../../../docs/api.md");
        let table = doc
            .split("### Error codes")
            .nth(1)
            .expect("docs/api.md has a section \"### Error codes\"");
        table
            .lines()
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .filter_map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                let code = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
                let status = cells.get(2)?.split_whitespace().next()?.parse().ok()?;
                Some((code.to_owned(), status))
            })
            .collect()
    }

    #[test]
    fn docs_list_every_code_with_its_status_and_no_other() {
        let listed = documented();
        let codes: Vec<(String, u16)> = ErrorCode::ALL
            .iter()
            .map(|c| (c.as_str().to_owned(), c.status().as_u16()))
            .collect();
        assert_eq!(
            listed, codes,
            "docs/api.md \"Error codes\" must list ErrorCode::ALL, in order, with each status"
        );
    }

    #[test]
    fn codes_are_distinct_snake_case_words() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "{s} twice");
            assert!(s.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{s}");
        }
    }
}
