//! Domain vocabulary shared by every layer, split by concern: ids, files and
//! records, imports and their outcomes, the directory, settings. Nothing here
//! touches I/O; `db/` maps these types to rows and back.

mod directory;
mod file;
mod ids;
mod import;
mod settings;
mod sync;

pub use directory::*;
pub use file::*;
pub use ids::*;
pub use import::*;
pub use settings::*;
pub use sync::*;
