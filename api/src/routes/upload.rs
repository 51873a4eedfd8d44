//! Receiving an upload: the body is streamed to a spool file with a running byte
//! count (over the limit is refused with 413 while it streams, never held in
//! memory), and its format is told from its first bytes.
//!
//! The content decides the format (API.md). What the client declares (the
//! Content-Type and the file name) is only held against the upload when it
//! names a kind of file that can never be an import: see [`check_declared`]
//! and docs/api.md, "Roster notes".

use crate::error::{ApiError, ErrorCode, Query};
use crate::state::AppState;
use axum::extract::multipart::Field;
use axum::extract::{FromRequest, FromRequestParts, Multipart, Request};
use axum::http::{HeaderMap, StatusCode, header};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use roster_shared::ingest::{self, SNIFF_BYTES};
use roster_shared::model::Format;
use roster_shared::pipeline::accept::ImportOptions;
pub use roster_shared::pipeline::accept::Spooled;
use std::path::Path;
use tokio::io::AsyncWriteExt;

/// An upload whose headers and query string have passed every check they can
/// be put to; its body is still unread ([`Upload::spool`] reads it), so a
/// request refused on them (too large, a bad key or option, no place among
/// the organization's imports) is refused before a byte of it is read.
pub struct Upload {
    /// The `Idempotency-Key`, if any.
    pub idempotency_key: Option<String>,
    options: ImportOptions,
    multipart: bool,
    limit: u64,
    request: Request,
}

impl FromRequest<AppState> for Upload {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let (mut parts, body) = request.into_parts();
        let Query(mut options) =
            Query::<ImportOptions>::from_request_parts(&mut parts, state).await?;
        let headers = &parts.headers;
        let limit = state.ctx.config.max_upload_bytes;
        let multipart = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/form-data"));
        check_length(headers, limit, multipart)?;
        let idempotency_key = idempotency_key(headers)?;
        // Every option is a short text without control characters (form fields
        // are bounded while read, query values here).
        for (name, value) in options.texts() {
            if let Some(value) = value {
                check_text(name, value, FIELD_BYTES)?;
            }
        }
        options.file_name = options.file_name.as_deref().map(file_name).transpose()?;
        Ok(Self {
            idempotency_key,
            options,
            multipart,
            limit,
            request: Request::from_parts(parts, body),
        })
    }
}

impl Upload {
    /// Reads the body into a file in `dir`: the whole body, or a form's `file`
    /// part beside its option fields (which override the query string's).
    pub async fn spool(self, dir: &Path) -> Result<(ImportOptions, Spooled), ApiError> {
        let Self {
            mut options,
            multipart,
            limit,
            request,
            ..
        } = self;
        if !multipart {
            let declared = request
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok());
            check_declared(declared, options.file_name.as_deref())?;
            let spooled = spool(request.into_body().into_data_stream(), dir, limit).await?;
            return Ok((options, spooled));
        }
        let mut form = <Multipart as FromRequest<()>>::from_request(request, &())
            .await
            .map_err(|e| ApiError::invalid(e.body_text()))?;
        let mut spooled = None;
        while let Some(field) = form
            .next_field()
            .await
            .map_err(|e| ApiError::invalid(e.body_text()))?
        {
            let name = field.name().unwrap_or_default().to_owned();
            if name == "file" {
                if options.file_name.is_none() {
                    options.file_name = field.file_name().map(file_name).transpose()?;
                }
                check_declared(field.content_type(), options.file_name.as_deref())?;
                spooled = Some(spool(field, dir, limit).await?);
            } else if name == "file_name" {
                options.file_name = Some(file_name(&field_text(field, &name).await?)?);
            } else if ImportOptions::NAMES.contains(&name.as_str()) {
                let value = field_text(field, &name).await?;
                options.set(&name, value);
            }
            // Other fields are no option: never read, never stored (the field
            // is skipped by reading on to the next one).
        }
        let spooled = spooled.ok_or_else(|| ApiError::invalid("the form has no 'file' part"))?;
        Ok((options, spooled))
    }
}

/// Streams `body` into a new file in `dir`, refusing it past `limit` bytes.
pub async fn spool<S, E>(mut body: S, dir: &Path, limit: u64) -> Result<Spooled, ApiError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let path = dir.join("upload");
    let mut file = tokio::fs::File::create(&path)
        .await
        .map_err(ApiError::internal)?;
    let mut prefix: Vec<u8> = Vec::with_capacity(SNIFF_BYTES);
    let mut bytes: u64 = 0;
    let mut format = None;
    while let Some(piece) = body.next().await {
        let piece =
            piece.map_err(|e| ApiError::invalid(format!("the upload was interrupted: {e}")))?;
        bytes += piece.len() as u64;
        if bytes > limit {
            return Err(too_large(limit));
        }
        if format.is_none() {
            let need = SNIFF_BYTES - prefix.len();
            prefix.extend_from_slice(&piece[..need.min(piece.len())]);
            if prefix.len() == SNIFF_BYTES {
                format = Some(sniff(&prefix)?);
            }
        }
        file.write_all(&piece).await.map_err(ApiError::internal)?;
    }
    file.flush().await.map_err(ApiError::internal)?;
    let format = match format {
        Some(f) => f,
        None if prefix.is_empty() => {
            return Err(ApiError::new(ErrorCode::EmptyFile, "the upload is empty"));
        }
        None => sniff(&prefix)?,
    };
    if format == Format::Xlsx {
        let check = path.clone();
        tokio::task::spawn_blocking(move || ingest::check_xlsx(&check))
            .await
            .map_err(ApiError::internal)?
            .map_err(|e| unsupported(&e.to_string()))?;
    }
    Ok(Spooled {
        path,
        bytes,
        format,
    })
}

/// What a multipart form may add around its file part, over `ROSTER_MAX_UPLOAD_BYTES`,
/// before its declared length is refused at once.
const FORM_OVERHEAD_BYTES: u64 = 64 * 1024;
/// The longest form field other than the file (options are short words and numbers).
pub const FIELD_BYTES: usize = 1024;
/// The longest file name kept (after any folder part is dropped).
const FILE_NAME_CHARS: usize = 255;
/// The longest `Idempotency-Key`.
const IDEMPOTENCY_KEY_CHARS: usize = 200;

/// How far over the limit a declared length may be and still be read up to the
/// limit (and refused while it streams) rather than refused at once: an answer
/// sent before a small body has been read makes a client that is still
/// writing it see a reset connection instead of the 413.
const EARLY_REFUSAL_SLACK: u64 = 1024 * 1024;

/// Refuses (413) an upload whose declared `Content-Length` is far over the
/// limit, before a byte of its body is read. A body a little over it, one that
/// declares nothing, or less than it sends, is counted while it streams
/// ([`spool`]) and refused at the limit.
pub fn check_length(headers: &HeaderMap, limit: u64, multipart: bool) -> Result<(), ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let allowed = if multipart {
        limit.saturating_add(FORM_OVERHEAD_BYTES)
    } else {
        limit
    }
    .saturating_add(EARLY_REFUSAL_SLACK);
    match declared {
        Some(length) if length > allowed => Err(too_large(limit)),
        _ => Ok(()),
    }
}

/// A text from the request that reaches the database: no control character
/// (PostgreSQL refuses NUL, and none belongs in a name, an option or a key)
/// and at most `max` characters.
pub fn check_text(what: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.chars().any(char::is_control) {
        return Err(ApiError::unparsable(
            StatusCode::BAD_REQUEST,
            format!("{what} holds a control character"),
        ));
    }
    if value.chars().count() > max {
        return Err(ApiError::invalid(format!(
            "{what} is longer than {max} characters"
        )));
    }
    Ok(())
}

/// The `Idempotency-Key` header, if any: printable text of at most 200 characters.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value.to_str().map_err(|_| {
        ApiError::unparsable(
            StatusCode::BAD_REQUEST,
            "Idempotency-Key must be printable ASCII text",
        )
    })?;
    check_text("Idempotency-Key", key, IDEMPOTENCY_KEY_CHARS)?;
    if key.trim().is_empty() {
        return Err(ApiError::unparsable(
            StatusCode::BAD_REQUEST,
            "Idempotency-Key is empty",
        ));
    }
    Ok(Some(key.to_owned()))
}

/// The file name to keep: the given one without any folder part (browsers of
/// old sent whole paths), checked like every stored text.
pub fn file_name(given: &str) -> Result<String, ApiError> {
    check_text("file_name", given, 4 * FILE_NAME_CHARS)?;
    let name = given.rsplit(['/', '\\']).next().unwrap_or_default();
    check_text("file_name", name, FILE_NAME_CHARS)?;
    Ok(name.to_owned())
}

/// A form field's text, refused past [`FIELD_BYTES`] instead of held whole in memory.
pub async fn field_text(mut field: Field<'_>, name: &str) -> Result<String, ApiError> {
    let mut bytes = Vec::new();
    while let Some(piece) = field
        .chunk()
        .await
        .map_err(|e| ApiError::invalid(e.body_text()))?
    {
        if bytes.len() + piece.len() > FIELD_BYTES {
            return Err(ApiError::invalid(format!(
                "form field '{name}' is longer than {FIELD_BYTES} bytes"
            )));
        }
        bytes.extend_from_slice(&piece);
    }
    let text = String::from_utf8(bytes).map_err(|_| {
        ApiError::unparsable(
            StatusCode::BAD_REQUEST,
            format!("form field '{name}' is not UTF-8 text"),
        )
    })?;
    check_text(&format!("form field '{name}'"), &text, FIELD_BYTES)?;
    Ok(text)
}

/// A `Content-Disposition` for a download named `name` (RFC 6266): `filename`
/// alone for a name in printable ASCII; else an ASCII stand-in for old clients
/// as `filename`, and the exact name as `filename*` in UTF-8.
pub fn attachment(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c,
            _ => '_',
        })
        .collect();
    if ascii == name {
        return format!("attachment; filename=\"{ascii}\"");
    }
    let mut encoded = String::with_capacity(name.len());
    for byte in name.bytes() {
        // RFC 8187 attr-char: letters, digits and these marks go as they are.
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// Declared media types that can never be an import file (matched on the
/// part before `/`, or the whole type).
const REFUSED_MEDIA: &[&str] = &["image", "audio", "video", "font", "application/pdf"];
/// File name endings that can never be an import file.
const REFUSED_EXTENSIONS: &[&str] = &[
    "pdf", "png", "jpg", "jpeg", "gif", "webp", "bmp", "tif", "tiff", "heic",
];

/// Refuses (415 `unsupported_format`) an upload declared, by its Content-Type
/// or its file name, as a PDF, an image, audio, video or a font, whatever its
/// bytes look like: such a declaration and text content disagree, and reading
/// the text anyway would import something the user did not mean to send (a
/// PDF may even carry junk before its `%PDF` mark). Every other declaration,
/// none, `application/octet-stream`, or one naming CSV, JSON or a
/// spreadsheet, is left to the content: browsers label CSV files as
/// `application/vnd.ms-excel` and scripts send whatever they like, so a CSV
/// sent as xlsx is still read as CSV.
pub fn check_declared(content_type: Option<&str>, file_name: Option<&str>) -> Result<(), ApiError> {
    if let Some(declared) = content_type {
        let media = declared
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let kind = media.split('/').next().unwrap_or_default();
        if REFUSED_MEDIA.iter().any(|r| *r == media || *r == kind) {
            return Err(unsupported(&format!("the upload is declared as {media}")));
        }
    }
    if let Some((_, extension)) = file_name.and_then(|n| n.rsplit_once('.')) {
        let extension = extension.trim().to_ascii_lowercase();
        if REFUSED_EXTENSIONS.contains(&extension.as_str()) {
            return Err(unsupported(&format!(
                "the file name says it is a .{extension} file"
            )));
        }
    }
    Ok(())
}

fn sniff(prefix: &[u8]) -> Result<Format, ApiError> {
    ingest::sniff(prefix).map_err(|e| unsupported(&e.to_string()))
}

fn unsupported(detail: &str) -> ApiError {
    ApiError::new(
        ErrorCode::UnsupportedFormat,
        format!("{detail}; upload CSV, JSON or xlsx"),
    )
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("the upload is larger than the limit of {limit} bytes"),
    )
}
