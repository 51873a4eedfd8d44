//! A throwaway OpenLDAP directory for the directory-sync tests: Debian's
//! `slapd` started on a free loopback port with a slapd.conf of its own (mdb
//! backend in a temp folder, a size limit of [`SIZE_LIMIT`] entries for every
//! bound user, so only a paged search sees a larger group whole), loaded with
//! `slapadd` before it starts, changed with `ldapmodify` as its root DN.
//! `scripts/test` installs `slapd` and `ldap-utils`.
//!
//! [`Slapd::start_tls`] adds TLS: a throwaway CA and a server certificate for
//! 127.0.0.1 and localhost, made at test time with the `openssl` command in the
//! directory's temp folder, StartTLS on the `ldap://` port and `ldaps://` on a
//! second one.

use crate::services::free_port;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// What a search without paging returns at most.
pub const SIZE_LIMIT: usize = 50;
pub const SUFFIX: &str = "dc=acme,dc=example";
pub const ROOT_DN: &str = "cn=admin,dc=acme,dc=example";
const ROOT_PASSWORD: &str = "root-secret";
/// The read-only account roster-adsync binds as (limits apply to it; the root DN has none).
pub const READER_DN: &str = "cn=reader,dc=acme,dc=example";
pub const READER_PASSWORD: &str = "reader-secret";
pub const GROUP_DN: &str = "cn=support,ou=groups,dc=acme,dc=example";

pub struct Slapd {
    pub dir: TempDir,
    /// The `ldap://` port (StartTLS offered there when TLS is on).
    pub port: u16,
    pub tls: Option<Tls>,
    child: Option<Child>,
}

/// The TLS side of a directory started with [`Slapd::start_tls`].
pub struct Tls {
    /// The `ldaps://` port.
    pub port: u16,
    /// The CA (PEM) that signed the server's certificate.
    pub ca: PathBuf,
}

/// The DN of user `uid`.
pub fn user_dn(uid: &str) -> String {
    format!("uid={uid},ou=people,{SUFFIX}")
}

fn config(dir: &Path, tls: bool) -> String {
    let d = dir.display();
    // Global directives: before the database. GnuTLS (Debian's slapd) reads
    // the PKCS#8 key openssl writes.
    let tls = if tls {
        format!(
            "TLSCACertificateFile {d}/ca.pem\n\
             TLSCertificateFile {d}/server.pem\n\
             TLSCertificateKeyFile {d}/server.key\n"
        )
    } else {
        String::new()
    };
    format!(
        "include /etc/ldap/schema/core.schema\n\
         include /etc/ldap/schema/cosine.schema\n\
         include /etc/ldap/schema/inetorgperson.schema\n\
         include /etc/ldap/schema/nis.schema\n\
         modulepath /usr/lib/ldap\n\
         moduleload back_mdb\n\
         pidfile {d}/slapd.pid\n\
         {tls}\
         access to attrs=userPassword by anonymous auth by * none\n\
         access to * by users read by * none\n\
         database mdb\n\
         suffix \"{SUFFIX}\"\n\
         rootdn \"{ROOT_DN}\"\n\
         rootpw {ROOT_PASSWORD}\n\
         directory {d}/db\n\
         maxsize 104857600\n\
         limits users size.soft={SIZE_LIMIT} size.hard={SIZE_LIMIT} size.prtotal=unlimited\n"
    )
}

/// The base entries, users `u1..=users` (User N, uN@acme.example) and the
/// support group with `members` of them.
pub fn base_ldif(users: usize, members: impl Iterator<Item = usize>) -> String {
    let mut out = format!(
        "dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Acme\ndc: acme\n\n\
         dn: ou=people,{SUFFIX}\nobjectClass: organizationalUnit\nou: people\n\n\
         dn: ou=groups,{SUFFIX}\nobjectClass: organizationalUnit\nou: groups\n\n\
         dn: {READER_DN}\nobjectClass: person\nobjectClass: simpleSecurityObject\ncn: reader\nsn: reader\n\
         userPassword: {READER_PASSWORD}\n\n"
    );
    for i in 1..=users {
        out.push_str(&format!(
            "dn: {}\nobjectClass: inetOrgPerson\nuid: u{i}\ncn: User {i}\nsn: U{i}\nmail: u{i}@acme.example\n\n",
            user_dn(&format!("u{i}"))
        ));
    }
    out.push_str(&format!(
        "dn: {GROUP_DN}\nobjectClass: groupOfNames\ncn: support\n"
    ));
    for i in members {
        out.push_str(&format!("member: {}\n", user_dn(&format!("u{i}"))));
    }
    out
}

impl Slapd {
    /// A directory loaded with `ldif`, serving on a free loopback port.
    pub fn start(ldif: &str) -> Slapd {
        Slapd::start_with(ldif, false)
    }

    /// As [`Slapd::start`], with TLS: StartTLS on [`Slapd::url`], LDAPS on
    /// [`Slapd::ldaps_url`], a certificate for 127.0.0.1 and localhost signed
    /// by a throwaway CA ([`Tls::ca`]).
    pub fn start_tls(ldif: &str) -> Slapd {
        Slapd::start_with(ldif, true)
    }

    fn start_with(ldif: &str, tls: bool) -> Slapd {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("db")).expect("db dir");
        let tls = tls.then(|| Tls {
            port: free_port(),
            ca: server_certificate(dir.path()),
        });
        std::fs::write(
            dir.path().join("slapd.conf"),
            config(dir.path(), tls.is_some()),
        )
        .expect("slapd.conf");
        std::fs::write(dir.path().join("data.ldif"), ldif).expect("data.ldif");
        let out = Command::new("slapadd")
            .arg("-f")
            .arg(dir.path().join("slapd.conf"))
            .arg("-l")
            .arg(dir.path().join("data.ldif"))
            .output()
            .expect("slapadd (scripts/test installs slapd)");
        assert!(
            out.status.success(),
            "slapadd: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut slapd = Slapd {
            dir,
            port: free_port(),
            tls,
            child: None,
        };
        slapd.resume();
        slapd
    }

    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    /// The `ldaps://` URL of a directory started with [`Slapd::start_tls`].
    pub fn ldaps_url(&self) -> String {
        let tls = self.tls.as_ref().expect("a directory started with TLS");
        format!("ldaps://127.0.0.1:{}", tls.port)
    }

    /// Starts (again) on the same port(s) with the same data.
    pub fn resume(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("slapd.log")).expect("log");
        let mut listeners = format!("ldap://127.0.0.1:{}/", self.port);
        let mut ports = vec![self.port];
        if let Some(tls) = &self.tls {
            listeners.push_str(&format!(" ldaps://127.0.0.1:{}/", tls.port));
            ports.push(tls.port);
        }
        let child = Command::new("/usr/sbin/slapd")
            .arg("-f")
            .arg(self.dir.path().join("slapd.conf"))
            .arg("-h")
            .arg(listeners)
            .args(["-d", "0"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("slapd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        for port in ports {
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "slapd did not listen on {port}: {}",
                    self.log()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// Stops the server (kill -9: a directory that goes away).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("slapd.log")).unwrap_or_default()
    }

    /// Applies an LDIF of changes as the root DN.
    pub fn modify(&self, ldif: &str) {
        let mut child = Command::new("ldapmodify")
            .args(["-x", "-H", &self.url(), "-D", ROOT_DN, "-w", ROOT_PASSWORD])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ldapmodify (ldap-utils)");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(ldif.as_bytes())
            .expect("ldif");
        let out = child.wait_with_output().expect("ldapmodify");
        assert!(
            out.status.success(),
            "ldapmodify: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Runs `openssl` in `dir` with `args` (split on whitespace); panics with
/// its stderr when it fails.
fn openssl(dir: &Path, args: &str) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args.split_whitespace())
        .output()
        .expect("openssl (the command; scripts/test installs it)");
    assert!(
        out.status.success(),
        "openssl {args}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A throwaway CA (RSA 2048, valid two days): `NAME.pem` and `NAME.key` in
/// `dir`; answers the certificate's path.
pub fn throwaway_ca(dir: &Path, name: &str) -> PathBuf {
    openssl(
        dir,
        &format!(
            "req -x509 -newkey rsa:2048 -nodes -days 2 -keyout {name}.key -out {name}.pem \
             -subj /CN=roster-test-{name} -addext basicConstraints=critical,CA:TRUE \
             -addext keyUsage=critical,keyCertSign,cRLSign"
        ),
    );
    dir.join(format!("{name}.pem"))
}

/// `ca.pem` (a throwaway CA) and the server's `server.pem` and `server.key`
/// in `dir`, for 127.0.0.1 and localhost; answers the CA's path.
fn server_certificate(dir: &Path) -> PathBuf {
    let ca = throwaway_ca(dir, "ca");
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints=critical,CA:FALSE\n\
         keyUsage=critical,digitalSignature,keyEncipherment\n\
         extendedKeyUsage=serverAuth\n\
         subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .expect("server.ext");
    openssl(
        dir,
        "req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost",
    );
    openssl(
        dir,
        "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial 2 -days 2 \
         -extfile server.ext -out server.pem",
    );
    ca
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}
