//! The stored sign-in: `$XDG_CONFIG_HOME/roster/config.json` (else
//! `$HOME/.config/roster/config.json`), readable by the user only (file 0600,
//! folder 0700). It holds one server and its token; the token is used only for
//! that server, so `--url` elsewhere never sends it to another host.

use crate::error::CliError;
use serde::{Deserialize, Serialize};
use std::fs::{DirBuilder, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

/// The server used when neither `--url`, `ROSTER_URL` nor a stored login names one.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080";

/// What `roster login` stores.
#[derive(Serialize, Deserialize)]
pub struct Stored {
    pub url: String,
    pub token: String,
}

impl std::fmt::Debug for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stored")
            .field("url", &self.url)
            .field("token", &"<hidden>")
            .finish()
    }
}

/// The folder, from the environment.
pub fn folder() -> Result<PathBuf, CliError> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(home) => PathBuf::from(home).join(".config"),
            None => {
                return Err(CliError::Usage(
                    "neither XDG_CONFIG_HOME nor HOME is set: no configuration folder".into(),
                ));
            }
        },
    };
    Ok(base.join("roster"))
}

fn file() -> Result<PathBuf, CliError> {
    Ok(folder()?.join("config.json"))
}

/// The stored login, if there is one.
pub fn load() -> Result<Option<Stored>, CliError> {
    let Ok(path) = file() else { return Ok(None) };
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            CliError::Usage(format!(
                "{}: not a roster configuration ({e}); run `roster login` again",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CliError::file(path, e)),
    }
}

/// Stores a login: written to a 0600 file beside the old one, then renamed over it.
pub fn save(stored: &Stored) -> Result<PathBuf, CliError> {
    let dir = folder()?;
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| CliError::file(&dir, e))?;
    // An existing folder keeps its mode on create: tighten it.
    std::fs::set_permissions(&dir, Permissions::from_mode(0o700))
        .map_err(|e| CliError::file(&dir, e))?;
    let path = dir.join("config.json");
    let temp = dir.join(format!(".config.json.{}", std::process::id()));
    let _ = std::fs::remove_file(&temp);
    let mut out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .map_err(|e| CliError::file(&temp, e))?;
    let body = serde_json::to_vec_pretty(stored).expect("a login serializes");
    out.write_all(&body)
        .and_then(|()| out.sync_all())
        .map_err(|e| CliError::file(&temp, e))?;
    std::fs::rename(&temp, &path).map_err(|e| CliError::file(&path, e))?;
    Ok(path)
}
