//! PATCH (RFC 7644 §3.5.2) in two steps. `normalise` turns a PatchOp body as
//! RFC 7644 or Microsoft Entra ID writes it (capitalized `Replace`/`Add`/
//! `Remove`, booleans as the strings `"True"`/`"False"`, a path-less `replace`
//! whose value has dotted keys, `Remove` with a value) into one plain form:
//! one lowercase operation per attribute path, booleans as booleans. `apply`
//! then changes a user's SCIM document by those operations only; the result
//! is handled as a PUT, so every rule of a replace applies to it.

use super::error::{ScimError, ScimResult};
use super::user::{Known, known};
use serde_json::{Map, Value};

pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Add,
    Replace,
    Remove,
}

/// One operation in the plain form.
#[derive(Debug, Clone, PartialEq)]
pub struct Op {
    pub kind: Kind,
    /// The attribute path, without the core User schema's URN prefix.
    pub path: String,
    pub value: Option<Value>,
}

/// The plain operations of a PatchOp body.
pub fn normalise(body: &Value) -> ScimResult<Vec<Op>> {
    let object = body
        .as_object()
        .ok_or_else(|| ScimError::bad("invalidSyntax", "a PatchOp body is a JSON object"))?;
    let operations = object
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("operations"))
        .and_then(|(_, v)| v.as_array())
        .ok_or_else(|| {
            ScimError::bad("invalidSyntax", "a PatchOp body needs an Operations array")
        })?;
    let mut ops = Vec::new();
    for operation in operations {
        let fields = operation
            .as_object()
            .ok_or_else(|| ScimError::bad("invalidSyntax", "each operation is an object"))?;
        let field = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        };
        let kind = match field("op")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("add") => Kind::Add,
            Some("replace") => Kind::Replace,
            Some("remove") => Kind::Remove,
            _ => {
                return Err(ScimError::bad(
                    "invalidSyntax",
                    "each operation's op is add, replace or remove",
                ));
            }
        };
        let value = field("value").cloned();
        match field("path") {
            Some(Value::String(path)) if !path.trim().is_empty() => {
                let path = strip_urn(path.trim());
                ops.push(Op {
                    kind,
                    value: value.map(|v| booleans(&path, v)),
                    path,
                });
            }
            Some(Value::String(_)) | None | Some(Value::Null) => {
                if kind == Kind::Remove {
                    return Err(ScimError::bad(
                        "noTarget",
                        "a remove operation needs a path",
                    ));
                }
                // Path-less: each key of the value (dotted or not) is a path.
                let Some(Value::Object(values)) = value else {
                    return Err(ScimError::bad(
                        "invalidValue",
                        "an operation without a path needs an object value",
                    ));
                };
                for (key, value) in values {
                    let path = strip_urn(&key);
                    ops.push(Op {
                        kind,
                        value: Some(booleans(&path, value)),
                        path,
                    });
                }
            }
            Some(_) => return Err(ScimError::bad("invalidPath", "a path is a string")),
        }
    }
    Ok(ops)
}

/// The path without the core User schema's URN (`urn:...:User:userName`).
fn strip_urn(path: &str) -> String {
    const URN: &str = "urn:ietf:params:scim:schemas:core:2.0:user:";
    match path.get(..URN.len()) {
        Some(prefix) if prefix.eq_ignore_ascii_case(URN) => path[URN.len()..].to_owned(),
        _ => path.to_owned(),
    }
}

/// `"True"`/`"False"` (any case) as booleans where the attribute is a boolean.
fn booleans(path: &str, value: Value) -> Value {
    let boolean = path.eq_ignore_ascii_case("active");
    match value {
        Value::String(text) if boolean => match text.to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(text),
        },
        Value::Object(map) if path.eq_ignore_ascii_case("name") || boolean => Value::Object(map),
        other => other,
    }
}

/// Applies `ops` to a user's SCIM document (canonical attribute names).
pub fn apply(doc: &mut Map<String, Value>, ops: &[Op]) -> ScimResult<()> {
    for op in ops {
        let (attribute, sub) = split(&op.path);
        match known(attribute) {
            Known::Unknown => {
                return Err(ScimError::bad(
                    "invalidPath",
                    format!("'{}' is not an attribute of a User", op.path),
                ));
            }
            // Attributes Roster does not keep (and the email, which is userName).
            Known::Ignored => continue,
            Known::Attribute(name) => {
                if op.kind != Kind::Remove && op.value.is_none() {
                    return Err(ScimError::bad(
                        "invalidValue",
                        format!("the operation on '{}' needs a value", op.path),
                    ));
                }
                set(doc, name, sub, op)?;
            }
        }
    }
    Ok(())
}

fn split(path: &str) -> (&str, Option<&str>) {
    match path.split_once('.') {
        Some((attribute, sub)) if !attribute.contains('[') => (attribute, Some(sub)),
        _ => (path.split('[').next().unwrap_or(path), None),
    }
}

fn set(
    doc: &mut Map<String, Value>,
    name: &'static str,
    sub: Option<&str>,
    op: &Op,
) -> ScimResult<()> {
    match (name, sub) {
        ("name", Some(sub)) => {
            let slot = doc
                .entry("name")
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            let map = slot.as_object_mut().expect("an object");
            match op.kind {
                Kind::Remove => {
                    map.retain(|k, _| !k.eq_ignore_ascii_case(sub));
                }
                _ => {
                    map.retain(|k, _| !k.eq_ignore_ascii_case(sub));
                    map.insert(sub.to_owned(), op.value.clone().unwrap_or(Value::Null));
                }
            }
        }
        (_, Some(_)) => {
            return Err(ScimError::bad(
                "invalidPath",
                format!("'{}' has no sub-attributes", op.path),
            ));
        }
        ("name", None) if op.kind == Kind::Add => {
            // add merges into a complex attribute.
            let value = op.value.clone().unwrap_or(Value::Null);
            match (doc.get_mut("name"), value) {
                (Some(Value::Object(now)), Value::Object(new)) => now.extend(new),
                (_, value) => {
                    doc.insert("name".into(), value);
                }
            }
        }
        (name, None) => match op.kind {
            Kind::Remove => {
                doc.remove(name);
            }
            _ => {
                doc.insert(name.to_owned(), op.value.clone().unwrap_or(Value::Null));
            }
        },
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn op(kind: Kind, path: &str, value: Option<Value>) -> Op {
        Op {
            kind,
            path: path.into(),
            value,
        }
    }

    #[test]
    fn entra_forms_become_plain_operations() {
        // Capitalized ops, a boolean string, a path-less replace with dotted keys, Remove with a value.
        let body = json!({
            "schemas": [PATCH_SCHEMA],
            "Operations": [
                {"op": "Replace", "path": "active", "value": "False"},
                {"op": "Add", "value": {"name.givenName": "Ana", "ACTIVE": "True", "displayName": "Ana S"}},
                {"op": "Remove", "path": "nickName", "value": "ana"},
                {"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:userName", "value": "a@b.test"}
            ]
        });
        assert_eq!(
            normalise(&body).unwrap(),
            [
                op(Kind::Replace, "active", Some(json!(false))),
                // A path-less value's keys, in the order serde_json keeps them.
                op(Kind::Add, "ACTIVE", Some(json!(true))),
                op(Kind::Add, "displayName", Some(json!("Ana S"))),
                op(Kind::Add, "name.givenName", Some(json!("Ana"))),
                op(Kind::Remove, "nickName", Some(json!("ana"))),
                op(Kind::Replace, "userName", Some(json!("a@b.test"))),
            ]
        );
    }

    #[test]
    fn malformed_bodies_are_scim_errors() {
        for (body, kind) in [
            (json!([]), "invalidSyntax"),
            (json!({"schemas": [PATCH_SCHEMA]}), "invalidSyntax"),
            (
                json!({"Operations": [{"op": "move", "path": "a"}]}),
                "invalidSyntax",
            ),
            (json!({"Operations": [{"op": "remove"}]}), "noTarget"),
            (
                json!({"Operations": [{"op": "replace", "value": "x"}]}),
                "invalidValue",
            ),
            (
                json!({"Operations": [{"op": "add", "path": 3, "value": 1}]}),
                "invalidPath",
            ),
        ] {
            let error = normalise(&body).unwrap_err();
            assert_eq!(error.scim_type, Some(kind), "{body}: {error:?}");
        }
    }

    #[test]
    fn operations_change_the_document() {
        let mut doc = json!({"userName": "a@b.test", "displayName": "Ana", "nickName": "an",
                             "active": true, "name": {"givenName": "A"}})
        .as_object()
        .cloned()
        .unwrap();
        let ops = [
            op(Kind::Replace, "active", Some(json!(false))),
            op(Kind::Add, "name.familyName", Some(json!("Silva"))),
            op(Kind::Remove, "nickName", Some(json!("an"))),
            op(
                Kind::Replace,
                "emails[type eq \"work\"].value",
                Some(json!("x@y.test")),
            ),
            op(Kind::Replace, "title", Some(json!("Lead"))),
        ];
        apply(&mut doc, &ops).unwrap();
        assert_eq!(
            Value::Object(doc.clone()),
            json!({"userName": "a@b.test", "displayName": "Ana", "active": false,
                   "name": {"givenName": "A", "familyName": "Silva"}})
        );
        let unknown = apply(&mut doc, &[op(Kind::Replace, "shoeSize", Some(json!(9)))]);
        assert_eq!(unknown.unwrap_err().scim_type, Some("invalidPath"));
        let empty = apply(&mut doc, &[op(Kind::Add, "nickName", None)]);
        assert_eq!(empty.unwrap_err().scim_type, Some("invalidValue"));
    }
}
