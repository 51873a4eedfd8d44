//! Which parts of a workbook calamine reads as XML: the targets of its
//! relationships, noted while the relationship parts are scanned. A part that
//! relationships target only as an image, an embedded object or the like is
//! never scanned.

use super::Scanner;

/// Relationship types whose targets calamine never reads as XML.
const BINARY_TYPES: &[&str] = &[
    "/image",
    "/oleObject",
    "/package",
    "/vbaProject",
    "/printerSettings",
    "/audio",
    "/video",
    "/media",
    "/hdphoto",
    "/font",
    "/activeXControlBinary",
];

/// The parts the relationships of a workbook target, by file name.
#[derive(Debug, Default)]
pub(in crate::ingest) struct Targets {
    /// Targets of relationships of a [`BINARY_TYPES`] type.
    binary: Vec<String>,
    /// Targets of every other relationship.
    read: Vec<String>,
    /// A relationship whose target could not be told (a tag longer than the
    /// head, or too many of them): no part is known to be binary.
    unknown: bool,
}

/// Most targets noted (a workbook holds at most 10,000 parts).
const MAX_TARGETS: usize = 10_000;

impl Targets {
    /// Whether calamine never reads the part `name` as XML: relationships
    /// target it only as an image, an embedded object or the like.
    pub(in crate::ingest) fn only_binary(&self, name: &str) -> bool {
        let file = file_name(name);
        !self.unknown && self.binary.contains(&file) && !self.read.contains(&file)
    }
}

impl Scanner<'_> {
    /// Notes a relationship's target.
    pub(super) fn relationship(&mut self, tag: &[u8]) {
        use crate::ingest::guard::attribute;
        let kind = attribute(tag, b"Type");
        let binary = kind.is_some_and(|k| BINARY_TYPES.iter().any(|t| k.ends_with(t.as_bytes())));
        let targets = &mut *self.targets;
        match attribute(tag, b"Target") {
            Some(target) if targets.binary.len() + targets.read.len() < MAX_TARGETS => {
                let file = file_name(&String::from_utf8_lossy(target));
                if binary {
                    targets.binary.push(file);
                } else {
                    targets.read.push(file);
                }
            }
            // Not knowing the target of a binary relationship only means not
            // skipping a part; not knowing another's could mean skipping one
            // calamine reads.
            None if binary => {}
            _ => targets.unknown = true,
        }
    }
}

/// A part name's last segment, lowercased, as relationships and zip names both end.
fn file_name(path: &str) -> String {
    path.rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}
