//! `roster import FILE`: stream the file up with a byte bar, then (with
//! `--wait`) follow the rows to the end, say how it went and save the result.

use super::{Finish, download, print_json, summary};
use crate::api::{Api, Import, Page, segment};
use crate::args::ImportArgs;
use crate::error::CliError;
use crate::progress::Progress;
use crate::watch;
use futures::StreamExt;
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde::Deserialize;

pub async fn run(api: &Api, args: ImportArgs, json: bool) -> Result<Finish, CliError> {
    let file = tokio::fs::File::open(&args.file)
        .await
        .map_err(|e| CliError::file(&args.file, e))?;
    let len = file
        .metadata()
        .await
        .map_err(|e| CliError::file(&args.file, e))?
        .len();
    let file_name = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "upload".into());

    let mut query: Vec<(&str, String)> = Vec::new();
    if let Some(group) = &args.group {
        query.push(("group_id", resolve_group(api, group).await?.to_string()));
    }
    if args.dry_run {
        query.push(("dry_run", "true".into()));
    }
    if let Some(mode) = args.on_existing {
        query.push(("on_existing", mode.as_str().into()));
    }

    let mut progress = Progress::for_stderr();
    let bar = progress.upload_bar(len, &file_name);
    let counted = bar.clone();
    // Chunk by chunk from the disk to the socket: the file is never whole in memory.
    let chunks =
        tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024).inspect(move |chunk| {
            if let Ok(bytes) = chunk {
                counted.inc(bytes.len() as u64);
            }
        });
    let part = Part::stream_with_length(reqwest::Body::wrap_stream(chunks), len)
        .file_name(file_name.clone());
    let request = api
        .request(Method::POST, "/v1/imports")
        .query(&query)
        .multipart(Form::new().part("file", part));
    let sent = api.send_signed(request).await;
    progress.finish_upload(&bar);
    let import = Import::read(api.json(sent?).await?)?;
    let id = import.view.id.clone();

    if !args.wait && args.result.is_none() {
        if json {
            print_json(&import.raw);
        } else {
            println!("{id}");
        }
        return Ok(Finish::Success);
    }

    let done = watch::follow(api, &id, |i| progress.update(&i.view)).await;
    progress.finish();
    done?;
    // The resource as GET answers it, whichever way the end was seen.
    let done = api.import(&id).await?;
    if let Some(out) = &args.result {
        if done.view.result_url.is_some() {
            download(
                api,
                &format!("/v1/imports/{}/result.xlsx", segment(&id)),
                Some(out),
            )
            .await?;
        } else {
            eprintln!(
                "no result spreadsheet: the import {}",
                done.view.status_word()
            );
        }
    }
    if json {
        print_json(&done.raw);
    } else {
        summary(api, &done).await?;
    }
    Ok(Finish::of(&done.view))
}

#[derive(Deserialize)]
struct Group {
    id: i64,
    name: String,
}

/// `--group`: a number is an id; anything else names exactly one group
/// (case-insensitive) among those the caller may see (`GET /v1/groups?q=`).
async fn resolve_group(api: &Api, group: &str) -> Result<i64, CliError> {
    if let Ok(id) = group.trim().parse::<i64>() {
        return Ok(id);
    }
    let wanted = group.trim().to_lowercase();
    // `?q=` narrows to the names containing the text; the exact match is ours.
    let request = api
        .request(Method::GET, "/v1/groups")
        .query(&[("q", group.trim()), ("limit", "1000")]);
    let page: Page<Group> = api.json(api.send_signed(request).await?).await?;
    let found: Vec<Group> = page
        .items
        .into_iter()
        .filter(|g| g.name.trim().to_lowercase() == wanted)
        .collect();
    match found.as_slice() {
        [one] => Ok(one.id),
        [] => Err(CliError::Usage(format!(
            "--group {group}: no group of that name among yours"
        ))),
        many => Err(CliError::Usage(format!(
            "--group {group}: {} groups have that name (ids {}): pass the id",
            many.len(),
            many.iter()
                .map(|g| g.id.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}
