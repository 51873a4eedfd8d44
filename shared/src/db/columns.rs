//! Column lists named once. The technician's written columns drive the batch
//! insert and update statements of both engines (`dialect`), the `COPY` text,
//! the JSON batch document and the single insert; the import counters
//! (`Counts::NAMES`) drive an import's columns, the batch additions and the
//! metrics.

use super::TechnicianWrite;
use crate::model::Counts;
use serde::ser::{Serialize, SerializeMap, Serializer};

/// The columns a technician write sets, with their PostgreSQL types (as a
/// JSON document's records are read), in the order of [`TechnicianWrite::fields`].
pub const TECHNICIAN_COLUMNS: [(&str, &str); 12] = [
    ("name", "text"),
    ("nickname", "text"),
    ("email", "text"),
    ("email_key", "text"),
    ("sso_id", "text"),
    ("description", "text"),
    ("password_hash", "text"),
    ("enabled", "smallint"),
    ("standard_license", "smallint"),
    ("mobile_license", "smallint"),
    ("group_id", "bigint"),
    ("must_change_password", "smallint"),
];

/// `name, nickname, ...`: [`TECHNICIAN_COLUMNS`] as a column list.
pub fn technician_column_list() -> String {
    joined(TECHNICIAN_COLUMNS.iter().map(|(c, _)| (*c).to_owned()))
}

/// One value of a technician write as the tables store it: text, or an
/// integer (flags as 0/1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field<'a> {
    Text(Option<&'a str>),
    Int(i64),
}

impl TechnicianWrite {
    /// The write's values in the order of [`TECHNICIAN_COLUMNS`].
    pub fn fields(&self) -> [Field<'_>; 12] {
        let flag = |b: bool| Field::Int(i64::from(b));
        [
            Field::Text(Some(&self.name)),
            Field::Text(self.nickname.as_deref()),
            Field::Text(Some(&self.email)),
            Field::Text(Some(&self.email_key)),
            Field::Text(self.sso_id.as_deref()),
            Field::Text(self.description.as_deref()),
            Field::Text(Some(&self.password_hash)),
            flag(self.enabled),
            flag(self.standard_license),
            flag(self.mobile_license),
            Field::Int(self.group_id.get()),
            flag(self.must_change_password),
        ]
    }
}

/// A technician write as the batch statements' JSON document holds it: one
/// object keyed by [`TECHNICIAN_COLUMNS`], with `extra` members first.
pub(super) struct TechnicianJson<'a> {
    pub extra: &'a [(&'static str, i64)],
    pub write: &'a TechnicianWrite,
}

impl Serialize for TechnicianJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map =
            serializer.serialize_map(Some(self.extra.len() + TECHNICIAN_COLUMNS.len()))?;
        for (key, value) in self.extra {
            map.serialize_entry(key, value)?;
        }
        for ((column, _), field) in TECHNICIAN_COLUMNS.iter().zip(self.write.fields()) {
            match field {
                Field::Text(text) => map.serialize_entry(column, &text)?,
                Field::Int(n) => map.serialize_entry(column, &n)?,
            }
        }
        map.end()
    }
}

/// A counter's column in `imports` and `import_chunks`.
pub(super) fn counter_column(name: &str) -> String {
    format!("{name}_rows")
}

/// `a, b, c`.
pub(super) fn joined(items: impl IntoIterator<Item = String>) -> String {
    items.into_iter().collect::<Vec<_>>().join(", ")
}

/// The counters' columns, each set to itself plus a placeholder from `$first` on,
/// in the order of [`Counts::NAMES`].
pub(super) fn add_counters(first: usize) -> String {
    joined(Counts::NAMES.iter().enumerate().map(|(i, name)| {
        let column = counter_column(name);
        format!("{column} = {column} + ${}", first + i)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_names_a_value_for_every_column() {
        let write = TechnicianWrite {
            row: 2,
            name: "Ann".into(),
            nickname: None,
            email: "ann@x.test".into(),
            email_key: "ann@x.test".into(),
            sso_id: None,
            description: Some("d".into()),
            password_hash: "h".into(),
            enabled: true,
            standard_license: true,
            mobile_license: false,
            group_id: crate::model::GroupId::new(7),
            must_change_password: true,
        };
        let json = serde_json::to_value(TechnicianJson {
            extra: &[("id", 9)],
            write: &write,
        })
        .expect("json");
        assert_eq!(
            json,
            serde_json::json!({
                "id": 9, "name": "Ann", "nickname": null, "email": "ann@x.test",
                "email_key": "ann@x.test", "sso_id": null, "description": "d",
                "password_hash": "h", "enabled": 1, "standard_license": 1,
                "mobile_license": 0, "group_id": 7, "must_change_password": 1
            })
        );
    }
}
