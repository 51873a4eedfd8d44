//! The command line of `roster-adsync`, as API.md ("Directory synchronization")
//! names it, plus the few settings a real directory needs (StartTLS, a private
//! CA, a base DN, the page size, a filter for disabled accounts outside Active
//! Directory).

use clap::Parser;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "roster-adsync",
    version,
    about = "Keeps a Roster technician group in step with a directory group (Active Directory or LDAP)"
)]
pub struct Args {
    /// The directory: ldap://HOST:389 or ldaps://HOST:636.
    #[arg(long, value_name = "URL")]
    pub ldap_url: String,
    /// Upgrade an ldap:// connection with StartTLS before binding.
    #[arg(long)]
    pub starttls: bool,
    /// With ldaps:// or --starttls: the CAs (PEM, one or more certificates)
    /// the directory's certificate must chain to, instead of the system's roots.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// The DN to bind as (a read-only service account).
    #[arg(long, value_name = "DN")]
    pub bind_dn: String,
    /// A file holding the bind password (one line; a trailing newline is ignored).
    #[arg(long, value_name = "FILE")]
    pub bind_password_file: PathBuf,
    /// The directory group whose members are synchronized.
    #[arg(long, value_name = "DN")]
    pub group_dn: String,
    /// Follow nested groups (Active Directory: the in-chain rule).
    #[arg(long)]
    pub nested: bool,
    /// Where users are searched; by default the group DN's domain (its DC= part).
    #[arg(long, value_name = "DN")]
    pub base_dn: Option<String>,
    /// Outside Active Directory: members matching this LDAP filter are disabled.
    #[arg(long, value_name = "FILTER")]
    pub disabled_filter: Option<String>,
    /// Entries asked for per page of a paged search (RFC 2696).
    #[arg(long, value_name = "N", default_value_t = 500, value_parser = clap::value_parser!(i32).range(1..=100_000))]
    pub page_size: i32,
    /// Roster's API, e.g. https://roster.example.
    #[arg(long, value_name = "URL")]
    pub roster_url: String,
    /// A file holding the service token (one line).
    #[arg(long, value_name = "FILE")]
    pub token_file: PathBuf,
    /// The technician group the directory group's members belong to.
    #[arg(long, value_name = "ID")]
    pub group_id: i64,
    /// Synchronize once and exit (the default).
    #[arg(long, conflicts_with = "every")]
    pub once: bool,
    /// Keep running: synchronize every SECONDS.
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub every: Option<u64>,
    /// Ask Roster what the run would do without changing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Seconds before a directory or Roster request is given up.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub timeout: u64,
}
