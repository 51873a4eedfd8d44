//! One module per resource, each exporting `router()`.

pub mod admins;
pub mod events;
pub mod groups;
pub mod imports;
pub mod ops;
pub mod sessions;
pub mod sync;
pub mod sync_tokens;
pub mod technicians;
mod upload;

/// For `Option<Option<T>>` patch fields: absent stays `None` (serde's default),
/// present becomes `Some(value)`, so `null` reads as `Some(None)`, "clear it".
pub(crate) fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    Ok(Some(<Option<T> as serde::Deserialize>::deserialize(d)?))
}
