//! The subcommands, and what they share: the exit status of an import, its
//! summary, downloads.

pub mod import;

use crate::api::{Api, Import, ImportView, Page, RowOut, Status, Token, segment};
use crate::args::TemplateFormat;
use crate::config::{self, Stored};
use crate::error::CliError;
use reqwest::Method;
use reqwest::header::CONTENT_DISPOSITION;
use serde_json::Value;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// Failed rows shown at the end of an import.
const SHOWN_FAILURES: usize = 20;

/// How a command ended, as an exit status (3, errors, comes from [`CliError`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// 0: done; for an import, every row succeeded.
    Success,
    /// 1: the import completed with failed rows.
    RowsFailed,
    /// 2: the import failed as a whole, or was cancelled.
    ImportFailed,
}

impl Finish {
    pub fn of(import: &ImportView) -> Self {
        match import.status {
            Status::Failed | Status::Cancelled => Self::ImportFailed,
            Status::Completed if import.failed_rows > 0 => Self::RowsFailed,
            _ => Self::Success,
        }
    }

    pub fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::RowsFailed => 1,
            Self::ImportFailed => 2,
        }
    }
}

pub fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("JSON prints")
    );
}

/// `roster login`: the token from --token / ROSTER_TOKEN, else asked for
/// without echo (or read from standard input when it is not a terminal).
pub async fn login(url: &str, token: Option<String>) -> Result<Finish, CliError> {
    let token = match token {
        Some(t) => t,
        None if std::io::stdin().is_terminal() => rpassword::prompt_password("API token: ")
            .map_err(|e| CliError::Usage(format!("cannot read the token: {e}")))?,
        None => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .map_err(|e| CliError::Usage(format!("cannot read the token: {e}")))?;
            line
        }
    };
    let token = token.trim().to_owned();
    if token.is_empty() {
        return Err(CliError::Usage("no token given".into()));
    }
    let api = Api::new(url, Some(Token(token.clone())))?;
    let _: Value = api.get_json("/v1/imports?limit=1").await?;
    let path = config::save(&Stored {
        url: api.base.clone(),
        token,
    })?;
    eprintln!("signed in to {}; saved in {}", api.base, path.display());
    Ok(Finish::Success)
}

/// `roster imports`
pub async fn imports(api: &Api, limit: u16, json: bool) -> Result<Finish, CliError> {
    let page: Value = api.get_json(&format!("/v1/imports?limit={limit}")).await?;
    if json {
        print_json(&page);
        return Ok(Finish::Success);
    }
    let items = page["items"].as_array().cloned().unwrap_or_default();
    for raw in items {
        let i = Import::read(raw)?.view;
        println!(
            "{}  {:<10} {:>9}  {}  {}",
            i.id,
            i.status_word(),
            rows_text(&i),
            i.created_at,
            i.file_name
        );
    }
    Ok(Finish::Success)
}

fn rows_text(i: &ImportView) -> String {
    match i.total_rows {
        Some(total) => format!("{}/{total}", i.processed_rows),
        None => "-".into(),
    }
}

/// `roster status ID`: exits like `import --wait` once the import has finished.
pub async fn status(api: &Api, id: &str, json: bool) -> Result<Finish, CliError> {
    let import = api.import(id).await?;
    if json {
        print_json(&import.raw);
    } else {
        summary(api, &import).await?;
    }
    Ok(Finish::of(&import.view))
}

/// The counts and the first failed rows, on standard output.
pub async fn summary(api: &Api, import: &Import) -> Result<(), CliError> {
    let i = &import.view;
    println!("import {} ({}): {}", i.id, i.file_name, i.status_word());
    if let Some(error) = &i.error {
        println!("  {}: {}", error.code, error.message);
    }
    if let Some(total) = i.total_rows {
        println!("  rows: {} of {total} processed", i.processed_rows);
    }
    let c = &i.counts;
    let mut counts = vec![
        ("created", c.created),
        ("updated", c.updated),
        ("skipped", c.skipped),
        ("valid", c.valid),
    ];
    if c.unchanged > 0 || c.disabled > 0 {
        counts.extend([("unchanged", c.unchanged), ("disabled", c.disabled)]);
    }
    counts.extend([("failed", c.failed), ("not processed", c.not_processed)]);
    let counts: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    println!("  {}", counts.join(", "));
    if i.failed_rows > 0 {
        let page: Page<RowOut> = api
            .get_json(&format!(
                "/v1/imports/{}/rows?status=failed&limit={SHOWN_FAILURES}",
                segment(&i.id)
            ))
            .await?;
        println!("failed rows:");
        for row in &page.items {
            println!("  row {}: {}", row.row, row.errors_text());
        }
        let more = i.failed_rows - page.items.len() as i64;
        if more > 0 {
            println!("  and {more} more");
        }
    }
    Ok(())
}

/// `roster rows ID [--failed]`: every outcome, page after page.
pub async fn rows(api: &Api, id: &str, failed: bool, json: bool) -> Result<Finish, CliError> {
    let mut after: Option<String> = None;
    loop {
        let mut path = format!("/v1/imports/{}/rows?limit=1000", segment(id));
        if failed {
            path.push_str("&status=failed");
        }
        if let Some(a) = &after {
            path.push_str(&format!("&after={}", segment(a)));
        }
        let page: Page<Value> = api.get_json(&path).await?;
        for raw in &page.items {
            if json {
                println!("{raw}");
                continue;
            }
            let row: RowOut = serde_json::from_value(raw.clone())
                .map_err(|e| CliError::Usage(format!("unreadable row from the server: {e}")))?;
            let errors = row.errors_text();
            println!(
                "row {}: {} {}{}{}",
                row.row,
                row.email.as_deref().unwrap_or("-"),
                row.status,
                if errors.is_empty() { "" } else { ": " },
                errors
            );
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(Finish::Success),
        }
    }
}

/// `roster result ID [-o FILE]`
pub async fn result(api: &Api, id: &str, output: Option<PathBuf>) -> Result<Finish, CliError> {
    let path = format!("/v1/imports/{}/result.xlsx", segment(id));
    download(api, &path, output.as_deref()).await?;
    Ok(Finish::Success)
}

/// `roster cancel ID`
pub async fn cancel(api: &Api, id: &str, json: bool) -> Result<Finish, CliError> {
    let raw: Value = api
        .post_empty(&format!("/v1/imports/{}/cancel", segment(id)))
        .await?;
    let import = Import::read(raw)?;
    if json {
        print_json(&import.raw);
    } else {
        println!("import {}: {}", import.view.id, import.view.status_word());
    }
    Ok(Finish::Success)
}

/// `roster templates [--format] [-o FILE]`: no token needed.
pub async fn templates(
    api: &Api,
    format: TemplateFormat,
    output: Option<PathBuf>,
) -> Result<Finish, CliError> {
    let ext = format.extension();
    let output = output.or_else(|| {
        matches!(format, TemplateFormat::Xlsx).then(|| PathBuf::from("technicians.xlsx"))
    });
    let path = format!("/v1/templates/technicians.{ext}");
    let response = api.send(api.request(Method::GET, &path)).await?;
    save(
        api,
        response,
        output.as_deref().unwrap_or(Path::new("-")),
        false,
    )
    .await?;
    Ok(Finish::Success)
}

/// Saves a signed GET to `output`, else to the file name the server gives.
pub async fn download(api: &Api, path: &str, output: Option<&Path>) -> Result<(), CliError> {
    let response = api.send_signed(api.request(Method::GET, path)).await?;
    let output = match output {
        Some(o) => o.to_owned(),
        None => PathBuf::from(attachment_name(&response).unwrap_or_else(|| "result.xlsx".into())),
    };
    save(api, response, &output, true).await
}

/// The file name of `Content-Disposition: attachment; filename="..."`, as a bare name.
fn attachment_name(response: &reqwest::Response) -> Option<String> {
    let header = response.headers().get(CONTENT_DISPOSITION)?.to_str().ok()?;
    let name = header.split("filename=").nth(1)?.split(';').next()?;
    let name = name.trim().trim_matches('"');
    let name = Path::new(name).file_name()?.to_string_lossy().into_owned();
    (!name.is_empty() && name != "." && name != "..").then_some(name)
}

/// Writes a body chunk by chunk: to standard output for `-`, else to a file.
async fn save(
    api: &Api,
    mut response: reqwest::Response,
    output: &Path,
    say: bool,
) -> Result<(), CliError> {
    use tokio::io::AsyncWriteExt;
    let mut file = match output == Path::new("-") {
        true => None,
        false => Some(
            tokio::fs::File::create(output)
                .await
                .map_err(|e| CliError::file(output, e))?,
        ),
    };
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| CliError::network(&api.base, &e))?
    {
        match &mut file {
            Some(f) => f.write_all(&chunk).await,
            None => std::io::stdout().lock().write_all(&chunk),
        }
        .map_err(|e| CliError::file(output, e))?;
    }
    match &mut file {
        Some(f) => f.flush().await,
        None => std::io::stdout().lock().flush(),
    }
    .map_err(|e| CliError::file(output, e))?;
    if say && file.is_some() {
        eprintln!("saved {}", output.display());
    }
    Ok(())
}
