//! One module per resource, each exporting `router()`.

pub mod admins;
pub mod groups;
pub mod imports;
pub mod ops;
pub mod technicians;
mod upload;
