//! What the user sees while a file uploads and its rows are processed. On a
//! terminal (standard error), bars; otherwise no control characters at all,
//! only one line each time another tenth of the rows is done.

use crate::api::ImportView;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// Bars on a terminal, plain lines elsewhere.
pub enum Progress {
    Bars { rows: Option<ProgressBar> },
    Lines { tenths_said: i64 },
}

impl Progress {
    /// Bars when standard error is a terminal.
    pub fn for_stderr() -> Self {
        if std::io::stderr().is_terminal() {
            Self::Bars { rows: None }
        } else {
            Self::Lines { tenths_said: 0 }
        }
    }

    /// A bar of bytes for an upload of `len` bytes; hidden without a terminal.
    pub fn upload_bar(&self, len: u64, file_name: &str) -> ProgressBar {
        match self {
            Self::Bars { .. } => {
                let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
                bar.set_style(
                    ProgressStyle::with_template(
                        "uploading {msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
                    )
                    .expect("a valid template")
                    .progress_chars("=> "),
                );
                bar.set_message(file_name.to_owned());
                bar
            }
            Self::Lines { .. } => ProgressBar::hidden(),
        }
    }

    /// Shows where an import stands.
    pub fn update(&mut self, import: &ImportView) {
        match self {
            Self::Bars { rows } => {
                let bar = rows.get_or_insert_with(|| {
                    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                    bar.set_style(
                        ProgressStyle::with_template("{spinner} {msg}").expect("a valid template"),
                    );
                    bar.enable_steady_tick(Duration::from_millis(200));
                    bar
                });
                draw_rows(bar, import);
            }
            Self::Lines { tenths_said } => {
                let Some(total) = import.total_rows.filter(|t| *t > 0) else {
                    return;
                };
                let tenths = (import.processed_rows * 10 / total).min(10);
                if tenths > *tenths_said {
                    *tenths_said = tenths;
                    eprintln!(
                        "{} rows of {total} processed ({}%)",
                        import.processed_rows,
                        tenths * 10
                    );
                }
            }
        }
    }

    /// Leaves the upload bar's final state on the screen.
    pub fn finish_upload(&self, bar: &ProgressBar) {
        if let Self::Bars { .. } = self {
            finish(bar);
        }
    }

    /// Leaves the final state of the rows bar on the screen.
    pub fn finish(&mut self) {
        if let Self::Bars { rows: Some(bar) } = self {
            finish(bar);
        }
    }
}

/// Draws a bar's last state and ends its line: indicatif leaves the cursor on
/// it, where the next bar or the summary would otherwise carry on.
fn finish(bar: &ProgressBar) {
    if !bar.is_finished() {
        bar.finish();
        eprintln!();
    }
}

fn draw_rows(bar: &ProgressBar, import: &ImportView) {
    let Some(total) = import.total_rows else {
        bar.set_message(format!("{}: reading the file", import.status_word()));
        return;
    };
    if bar.length() != Some(total as u64) {
        bar.set_length(total as u64);
        bar.set_style(
            ProgressStyle::with_template("[{bar:30}] {pos}/{len} rows  {msg}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
    }
    bar.set_position(import.processed_rows.max(0) as u64);
    // The server measures over the last 30 s; before it says, indicatif's own estimate.
    let rate = import.rows_per_second.unwrap_or_else(|| bar.per_sec());
    let left = match import.eta_seconds {
        Some(s) => Some(Duration::from_secs(s.max(0) as u64)),
        None if import.status.finished() => None,
        None if rate > 0.0 => Some(bar.eta()),
        None => None,
    };
    let mut message = format!("{rate:.1} rows/s");
    if let Some(left) = left {
        message.push_str(&format!(", {} left", clock(left)));
    }
    if import.status.finished() {
        message = format!("{message}, {}", import.status_word());
    }
    bar.set_message(message);
}

/// `1h 02m`, `3m 20s`, `45s`.
pub fn clock(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

impl ImportView {
    pub fn status_word(&self) -> &'static str {
        use crate::api::Status::*;
        match self.status {
            Queued => "queued",
            Running => "running",
            Completed => "completed",
            Failed => "failed",
            Cancelled => "cancelled",
            NeedsApproval => "needs approval",
            Unknown => "unknown",
        }
    }
}
