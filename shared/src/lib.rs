//! Roster's domain and adapters: reading import files, validating rows, the
//! import pipeline, the result spreadsheet, and the database, queue and object
//! store behind small traits.

pub mod access;
pub mod config;
pub mod db;
pub mod ingest;
pub mod model;
pub mod password;
pub mod pipeline;
pub mod queue;
pub mod report;
pub mod runtime;
pub mod storage;
pub mod telemetry;
pub mod templates;
pub mod time;
pub mod validate;
