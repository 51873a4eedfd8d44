//! Roster's end-to-end tests, one binary: each module is one area of the
//! product, tried against the real binaries on the deployments it runs on
//! (see the `roster-tests` library for the harness). One binary links the
//! harness once; a test's path names its area (`faults::`, `sync::`, ...),
//! which is what filters (`.config/nextest.toml`, `scripts/soak-kill9.sh`)
//! select on.

mod cli;
mod console;
mod directory;
mod edge;
mod embedded;
mod events;
mod faults;
mod formats;
mod hostile;
mod imports;
mod limits;
mod openapi;
mod prehashed;
mod schemathesis;
mod scim;
mod scim_errors;
mod sessions;
mod storage;
mod sync;
mod sync_tokens;
mod technicians;
mod xlsx_bounds;
