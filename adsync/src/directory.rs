//! Reads a directory group's members completely or not at all. Every search is
//! paged (RFC 2696), so a server's size limit never cuts a group short; any
//! error (a refused bind, a search that ends with a non-success result, a
//! connection lost between pages, an entry that cannot be mapped) fails the
//! whole read, and the caller sends nothing.
//!
//! Active Directory (told by its root DSE capability) is searched by
//! `memberOf`, with the in-chain rule for `--nested`; other directories by the
//! group's `member`/`uniqueMember` values, nested groups followed by hand, and
//! the users under the base matched against that set.

use crate::args::Args;
use crate::entry::{Entry, Kind, Member, domain_of, escape_filter_value, normalize_dn};
use crate::tls;
use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry};
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

/// Active Directory's root DSE capability (LDAP_CAP_ACTIVE_DIRECTORY_OID).
const AD_CAPABILITY: &str = "1.2.840.113556.1.4.800";
/// Active Directory's LDAP_MATCHING_RULE_IN_CHAIN.
const IN_CHAIN: &str = "1.2.840.113556.1.4.1941";
/// Nested groups deeper than this are taken for a loop.
const MAX_DEPTH: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("directory: {0}")]
    Ldap(#[from] ldap3::LdapError),
    #[error("directory: {0}")]
    Entry(#[from] crate::entry::EntryError),
    #[error("directory: {0}")]
    Other(String),
    /// The CA file cannot be used: nothing is tried.
    #[error("{0}")]
    Ca(#[from] crate::tls::CaError),
    /// The TLS handshake failed (the certificate did not verify, say) before
    /// the bind: the password was not sent either.
    #[error("directory {0}")]
    Tls(String),
}

/// The group's members, in a stable order (by external id).
#[derive(Debug)]
pub struct Snapshot {
    pub kind: Kind,
    pub members: Vec<Member>,
}

/// Connects, binds and reads the group.
pub async fn read(args: &Args, password: &str) -> Result<Snapshot, ReadError> {
    let timeout = Duration::from_secs(args.timeout);
    let mut settings = LdapConnSettings::new()
        .set_conn_timeout(timeout)
        .set_starttls(args.starttls);
    if let Some(ca_file) = &args.ca_file {
        settings = settings.set_config(tls::client_config(ca_file)?);
    }
    let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &args.ldap_url)
        .await
        .map_err(|e| match tls::explain(&e, args.ca_file.as_deref()) {
            Some(tls) => ReadError::Tls(format!("{}: {tls}", args.ldap_url)),
            None => ReadError::Ldap(e),
        })?;
    let driver = tokio::spawn(async move {
        // A connection error surfaces in the next operation as well.
        let _ = conn.drive().await;
    });
    ldap.with_timeout(timeout);
    let result = read_bound(&mut ldap, args, password).await;
    let _ = ldap.unbind().await;
    driver.abort();
    result
}

async fn read_bound(ldap: &mut Ldap, args: &Args, password: &str) -> Result<Snapshot, ReadError> {
    ldap.simple_bind(&args.bind_dn, password).await?.success()?;
    let kind = detect(ldap).await?;
    let base = args
        .base_dn
        .clone()
        .unwrap_or_else(|| domain_of(&args.group_dn));
    let entries = match kind {
        Kind::ActiveDirectory => {
            let group = escape_filter_value(&args.group_dn);
            let rule = if args.nested {
                format!(":{IN_CHAIN}:")
            } else {
                String::new()
            };
            let filter =
                format!("(&(objectCategory=person)(objectClass=user)(memberOf{rule}={group}))");
            paged(ldap, &base, &filter, kind.attributes(), args.page_size).await?
        }
        Kind::Ldap => {
            let wanted = ldap_member_dns(ldap, &args.group_dn, args.nested).await?;
            let filter = "(|(objectClass=person)(objectClass=inetOrgPerson)(objectClass=user))";
            paged(ldap, &base, filter, kind.attributes(), args.page_size)
                .await?
                .into_iter()
                .filter(|e| wanted.contains(&normalize_dn(&e.dn)))
                .collect()
        }
    };
    let disabled: HashSet<String> = match (&args.disabled_filter, kind) {
        (Some(filter), Kind::Ldap) => paged(ldap, &base, filter, vec!["1.1"], args.page_size)
            .await?
            .into_iter()
            .map(|e| normalize_dn(&e.dn))
            .collect(),
        _ => HashSet::new(),
    };
    let mut members = BTreeMap::new();
    for e in entries {
        let m = e.member(kind, disabled.contains(&normalize_dn(&e.dn)))?;
        members.insert(m.external_id.clone(), m);
    }
    Ok(Snapshot {
        kind,
        members: members.into_values().collect(),
    })
}

/// Active Directory or not, from the root DSE.
async fn detect(ldap: &mut Ldap) -> Result<Kind, ReadError> {
    let (entries, _) = ldap
        .search(
            "",
            Scope::Base,
            "(objectClass=*)",
            vec!["supportedCapabilities"],
        )
        .await?
        .success()?;
    let ad = entries.into_iter().map(construct).any(|e| {
        e.map(|e| {
            e.attrs
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case("supportedCapabilities"))
                .flat_map(|(_, v)| v)
                .any(|c| c == AD_CAPABILITY)
        })
        .unwrap_or(false)
    });
    Ok(if ad {
        Kind::ActiveDirectory
    } else {
        Kind::Ldap
    })
}

/// The normalized DNs of the group's members (nested groups expanded when asked).
async fn ldap_member_dns(
    ldap: &mut Ldap,
    group_dn: &str,
    nested: bool,
) -> Result<HashSet<String>, ReadError> {
    let mut members = HashSet::new();
    let mut seen_groups = HashSet::from([normalize_dn(group_dn)]);
    let mut frontier = vec![group_dn.to_owned()];
    for _ in 0..MAX_DEPTH {
        let mut next = Vec::new();
        for group in frontier {
            let (entries, _) = ldap
                .search(
                    &group,
                    Scope::Base,
                    "(objectClass=*)",
                    vec!["member", "uniqueMember", "objectClass"],
                )
                .await?
                .success()?;
            let entry = entries
                .into_iter()
                .next()
                .map(construct)
                .transpose()?
                .ok_or_else(|| ReadError::Other(format!("group {group} not found")))?;
            for (attr, values) in &entry.attrs {
                if !attr.eq_ignore_ascii_case("member")
                    && !attr.eq_ignore_ascii_case("uniqueMember")
                {
                    continue;
                }
                for v in values {
                    // uniqueMember may carry an optional #'BITSTRING'B suffix.
                    let dn = v.split_once("#'").map_or(v.as_str(), |(dn, _)| dn);
                    members.insert(normalize_dn(dn));
                    if nested {
                        next.push(dn.to_owned());
                    }
                }
            }
        }
        if !nested || next.is_empty() {
            return Ok(members);
        }
        // Only the member DNs that are groups go further.
        frontier = Vec::new();
        for dn in next {
            if seen_groups.contains(&normalize_dn(&dn)) {
                continue;
            }
            let (entries, _) = ldap
                .search(
                    &dn,
                    Scope::Base,
                    "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))",
                    vec!["1.1"],
                )
                .await?
                .non_error()?;
            if !entries.is_empty() {
                seen_groups.insert(normalize_dn(&dn));
                frontier.push(dn);
            }
        }
        if frontier.is_empty() {
            return Ok(members);
        }
    }
    Err(ReadError::Other(format!(
        "nested groups deeper than {MAX_DEPTH} under {group_dn}"
    )))
}

/// A complete paged subtree search, or an error.
async fn paged(
    ldap: &mut Ldap,
    base: &str,
    filter: &str,
    attrs: Vec<&'static str>,
    page_size: i32,
) -> Result<Vec<Entry>, ReadError> {
    let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![
        Box::new(EntriesOnly::new()),
        Box::new(PagedResults::new(page_size)),
    ];
    let mut stream = ldap
        .streaming_search_with(adapters, base, Scope::Subtree, filter, attrs)
        .await?;
    let mut out = Vec::new();
    while let Some(entry) = stream.next().await? {
        out.push(construct(entry)?);
    }
    stream.finish().await.success()?;
    Ok(out)
}

/// ldap3 panics on a malformed entry: caught here and made an error.
fn construct(entry: ldap3::ResultEntry) -> Result<Entry, ReadError> {
    let e = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        SearchEntry::construct(entry)
    }))
    .map_err(|_| ReadError::Other("a malformed search result entry".into()))?;
    Ok(Entry {
        dn: e.dn,
        attrs: e.attrs,
        bin_attrs: e.bin_attrs,
    })
}
