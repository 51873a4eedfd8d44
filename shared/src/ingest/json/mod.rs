//! The JSON reader: an array of objects, or an object whose `technicians`
//! member is that array (its other members are ignored, whatever they hold).
//!
//! It streams: the top-level structure is walked byte by byte, each element's
//! bytes are cut out (at most [`MAX_ELEMENT_BYTES`]) and only that element is
//! parsed with serde_json. Keys are the full layout's column names or their
//! snake_case forms, both compared ignoring case and surrounding spaces.
//! Values may be strings, numbers, booleans (`Yes`/`No`) or null (empty); an
//! unknown key or a nested value is a row error, broken JSON a file error.

mod scan;

use super::row::{Draft, clip};
use super::text::Utf8Text;
use super::unreadable;
use crate::model::{FieldError, FileError, HASHED_COLUMNS, HASHED_KEYS, Layout, Record};
use scan::{scan_value, skip_ws};
use serde_json::Value;
use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// The largest technician (one array element) accepted.
const MAX_ELEMENT_BYTES: usize = 4 * 1024 * 1024;
/// The longest member name accepted in the top-level object.
const MAX_KEY_BYTES: usize = 64 * 1024;

type Source = BufReader<Utf8Text<File>>;

/// The records of a JSON file.
pub(super) struct JsonRows {
    src: Source,
    /// Inside `{"technicians": [...]}` rather than a bare array.
    wrapped: bool,
    /// Elements read so far; element `n` (1-based) is row `n + 1`.
    elements: u32,
    element: Vec<u8>,
}

/// Opens a JSON file and steps into its array of technicians.
pub(super) fn open(path: &Path) -> Result<JsonRows, FileError> {
    let file = File::open(path).map_err(|e| unreadable(&e))?;
    let text = Utf8Text::new(file).map_err(|e| unreadable(&e))?;
    let mut src = BufReader::with_capacity(64 * 1024, text);
    let wrapped = match skip_ws(&mut src)? {
        None => return Err(FileError::EmptyFile("the file is empty".into())),
        Some(b'[') => false,
        Some(b'{') => {
            src.consume(1);
            enter_technicians(&mut src)?;
            true
        }
        Some(_) => return Err(not_technicians()),
    };
    src.consume(1); // the array's `[`
    if skip_ws(&mut src)? == Some(b']') {
        return Err(FileError::EmptyFile("the file holds no technicians".into()));
    }
    Ok(JsonRows {
        src,
        wrapped,
        elements: 0,
        element: Vec::new(),
    })
}

impl JsonRows {
    /// The next element that is not empty, or `None` after the array's end.
    fn next_record(&mut self) -> Result<Option<Record>, FileError> {
        loop {
            let next = skip_ws(&mut self.src)?;
            if self.elements > 0 && next == Some(b',') {
                self.src.consume(1);
                skip_ws(&mut self.src)?;
            } else if next == Some(b']') {
                self.src.consume(1);
                self.finish_document()?;
                return Ok(None);
            } else if self.elements > 0 {
                return Err(broken("expected ',' or ']' after a technician"));
            }
            self.elements = self.elements.saturating_add(1);
            let row = self.elements.saturating_add(1);
            let at_row = |e: FileError| FileError::Unreadable(format!("row {row}: {e}"));
            self.element.clear();
            scan_value(&mut self.src, Some((&mut self.element, MAX_ELEMENT_BYTES)))
                .map_err(at_row)?;
            let element: Element =
                serde_json::from_slice(&self.element).map_err(|e| at_row(broken(e)))?;
            match element {
                Element::Object(entries) => match record(&entries, row) {
                    Some(record) => return Ok(Some(record)),
                    None => continue,
                },
                Element::Other(Value::Null) => continue,
                Element::Other(other) => {
                    let kind = kind(&other).unwrap_or("text");
                    return Err(at_row(broken(format!(
                        "a technician must be an object, not {kind}"
                    ))));
                }
            }
        }
    }

    /// After the array: the rest of the wrapping object, then nothing but spaces.
    fn finish_document(&mut self) -> Result<(), FileError> {
        if self.wrapped {
            while next_member(&mut self.src, false)?.is_some() {
                scan_value(&mut self.src, None)?;
            }
        }
        match skip_ws(&mut self.src)? {
            None => Ok(()),
            Some(_) => Err(broken("unexpected data after the technicians")),
        }
    }
}

impl Iterator for JsonRows {
    type Item = Result<Record, FileError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}

/// One array element: an object with its members in order, every one kept
/// (a `Map` would keep only the last of a key named twice), or another value.
enum Element {
    Object(Vec<(String, Value)>),
    Other(Value),
}

impl<'de> serde::Deserialize<'de> for Element {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ElementVisitor)
    }
}

struct ElementVisitor;

impl<'de> serde::de::Visitor<'de> for ElementVisitor {
    type Value = Element;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a technician")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Element, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry::<String, Value>()? {
            entries.push(entry);
        }
        Ok(Element::Object(entries))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Element, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Value>()? {
            items.push(item);
        }
        Ok(Element::Other(Value::Array(items)))
    }
    fn visit_bool<E>(self, v: bool) -> Result<Element, E> {
        Ok(Element::Other(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Element, E> {
        Ok(Element::Other(Value::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Element, E> {
        Ok(Element::Other(Value::from(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Element, E> {
        Ok(Element::Other(Value::from(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Element, E> {
        Ok(Element::Other(Value::String(v.to_owned())))
    }
    fn visit_unit<E>(self) -> Result<Element, E> {
        Ok(Element::Other(Value::Null))
    }
}

/// One object's record; `None` when it holds nothing. A column named twice
/// (`Email` twice, or `Email` and `email`) fails the row: which value was meant
/// cannot be known, and keeping either would guess.
fn record(entries: &[(String, Value)], row: u32) -> Option<Record> {
    let mut draft = Draft::new(Layout::Hashed);
    let mut named = [false; HASHED_COLUMNS.len()];
    for (key, value) in entries {
        let Some(index) = column_index(key) else {
            let (name, _) = clip(key, 64);
            let field = if name.is_empty() { "\"\"" } else { name };
            draft.error(FieldError::new(
                field,
                "unknown_field",
                "is not a column of the full layout",
            ));
            continue;
        };
        if std::mem::replace(&mut named[index], true) {
            draft.error(FieldError::new(
                HASHED_COLUMNS[index],
                "duplicate_key",
                "is named more than once in this technician",
            ));
            continue;
        }
        match text(value) {
            Ok(text) => draft.set(index, &text),
            Err(kind) => draft.error(FieldError::new(
                HASHED_COLUMNS[index],
                "invalid_value",
                format!("must be text, a number or true/false, not {kind}"),
            )),
        }
    }
    draft.finish(row)
}

fn column_index(key: &str) -> Option<usize> {
    let key = key.trim();
    HASHED_COLUMNS
        .iter()
        .position(|c| c.eq_ignore_ascii_case(key))
        .or_else(|| HASHED_KEYS.iter().position(|k| k.eq_ignore_ascii_case(key)))
}

/// A scalar as cell text; the kind of value it is otherwise.
pub(super) fn text(value: &Value) -> Result<Cow<'_, str>, &'static str> {
    match value {
        Value::Null => Ok(Cow::Borrowed("")),
        Value::Bool(true) => Ok(Cow::Borrowed("Yes")),
        Value::Bool(false) => Ok(Cow::Borrowed("No")),
        Value::String(s) => Ok(Cow::Borrowed(s)),
        Value::Number(n) => Ok(Cow::Owned(match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            // Display prints an integer-valued float without `.0`, others shortest.
            (_, _, Some(f)) => f.to_string(),
            _ => n.to_string(),
        })),
        Value::Array(_) | Value::Object(_) => Err(kind(value).unwrap_or("a nested value")),
    }
}

fn kind(value: &Value) -> Option<&'static str> {
    match value {
        Value::Array(_) => Some("a list"),
        Value::Object(_) => Some("an object"),
        Value::Number(_) => Some("a number"),
        Value::Bool(_) => Some("true/false"),
        _ => None,
    }
}

fn not_technicians() -> FileError {
    FileError::Unreadable(
        "a JSON file must hold an array of technicians, or an object with a \"technicians\" array"
            .into(),
    )
}

fn broken(detail: impl std::fmt::Display) -> FileError {
    FileError::Unreadable(format!("broken JSON: {detail}"))
}

/// Steps from just inside the top-level object into its `technicians` array
/// (stopping on the `[`), skipping other members.
fn enter_technicians(src: &mut Source) -> Result<(), FileError> {
    let mut first = true;
    while let Some(key) = next_member(src, first)? {
        first = false;
        if key.trim().eq_ignore_ascii_case("technicians") {
            return match skip_ws(src)? {
                Some(b'[') => Ok(()),
                _ => Err(not_technicians()),
            };
        }
        scan_value(src, None)?;
    }
    Err(not_technicians())
}

/// The next member's key of an object, leaving the reader at its value; `None`
/// (the `}` consumed) at the object's end.
fn next_member(src: &mut Source, first: bool) -> Result<Option<String>, FileError> {
    let mut next = skip_ws(src)?;
    if next == Some(b'}') {
        src.consume(1);
        return Ok(None);
    }
    if !first {
        if next != Some(b',') {
            return Err(broken("expected ',' or '}' between members"));
        }
        src.consume(1);
        next = skip_ws(src)?;
    }
    if next != Some(b'"') {
        return Err(broken("expected a member name"));
    }
    let mut raw = Vec::new();
    scan_value(src, Some((&mut raw, MAX_KEY_BYTES)))?;
    let key: String = serde_json::from_slice(&raw).map_err(broken)?;
    if skip_ws(src)? != Some(b':') {
        return Err(broken("expected ':' after a member name"));
    }
    src.consume(1);
    Ok(Some(key))
}
