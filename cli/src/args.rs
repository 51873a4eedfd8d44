//! The command line, as clap reads it. Every usage error exits 3 (see `main`).

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// roster: import support technicians in bulk through a Roster server.
#[derive(Debug, Parser)]
#[command(name = "roster", version, about, propagate_version = true)]
pub struct Cli {
    /// The server (else the one `roster login` stored, else http://127.0.0.1:8080).
    #[arg(long, env = "ROSTER_URL", global = true)]
    pub url: Option<String>,

    /// An API token (else the one `roster login` stored for this server).
    #[arg(long, env = "ROSTER_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,

    /// Print the resource as JSON on standard output instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a token against the server and store both for later commands.
    Login,
    /// Upload a file and start an import (with --wait: follow it to the end).
    Import(ImportArgs),
    /// The imports you may see, newest first.
    Imports {
        /// How many to show.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..=1000))]
        limit: u16,
    },
    /// One import: its status and counts.
    Status { id: String },
    /// Per-row outcomes of an import.
    Rows {
        id: String,
        /// Only the rows that failed.
        #[arg(long)]
        failed: bool,
    },
    /// Download the result spreadsheet of a finished import.
    Result {
        id: String,
        /// Where to save it ("-" for standard output); default: the server's file name.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Stop an import.
    Cancel { id: String },
    /// Download an example import file.
    Templates {
        #[arg(long, value_enum, default_value_t = TemplateFormat::Csv)]
        format: TemplateFormat,
        /// Where to save it ("-" for standard output); default: standard output,
        /// or technicians.xlsx for xlsx.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// A CSV, JSON or xlsx file in Rescue's full layout or the short one.
    pub file: PathBuf,
    /// The technician group for every row: an id, or a group's exact name.
    #[arg(long)]
    pub group: Option<String>,
    /// Validate every row, create nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// What a row whose email already exists does.
    #[arg(long, value_enum)]
    pub on_existing: Option<OnExisting>,
    /// Follow the import to its end (exit status tells how it went).
    #[arg(long)]
    pub wait: bool,
    /// Save the result spreadsheet here at the end (implies --wait).
    #[arg(long, value_name = "OUT.xlsx")]
    pub result: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OnExisting {
    Fail,
    Skip,
    Update,
}

impl OnExisting {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fail => "fail",
            Self::Skip => "skip",
            Self::Update => "update",
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TemplateFormat {
    Csv,
    Json,
    Xlsx,
}

impl TemplateFormat {
    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Json => "json",
            Self::Xlsx => "xlsx",
        }
    }
}
