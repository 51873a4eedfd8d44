//! What a request may carry, checked before any handler sees it.
//!
//! JSON bodies are read through [`Strict`], a deserializer over a parsed
//! `serde_json::Value` that keeps serde's rules but two of its leniencies:
//! - a struct is only ever read from a JSON object (serde's derive also takes an
//!   array, by position, so `["Tier 1", 1]` would make a group);
//! - no text may hold a NUL character: PostgreSQL refuses it in `text`, and an
//!   error there is a 500 long after the edge. The embedded default (SQLite)
//!   would store it, so both engines refuse it here alike.
//!
//! - no object may name a key twice (serde_json would keep the last one).
//!
//! Query strings get the same NUL rule ([`check_query`]).

use serde::de::value::StringDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess};
use serde::forward_to_deserialize_any;
use serde_json::{Map, Value};

/// The message every refused NUL gets.
pub const NUL_REFUSED: &str = "text may not contain a NUL character";

/// A JSON value read strictly (module docs).
pub struct Strict(pub Value);

/// Reads a request body as `T` by the rules above: a syntax error is `Err(true)`
/// with serde's message (a 400), a body of the wrong shape `Err(false)` (a 422).
pub fn from_slice<T: de::DeserializeOwned>(body: &[u8]) -> Result<T, (bool, String)> {
    let Unique(value) =
        serde_json::from_slice(body).map_err(|e| (e.is_syntax() || e.is_eof(), e.to_string()))?;
    serde_path_to_error::deserialize(Strict(value)).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        match path.as_str() {
            "." | "" => (false, inner),
            _ => (false, format!("{path}: {inner}")),
        }
    })
}

/// A JSON value whose objects name each key once.
struct Unique(Value);

impl<'de> serde::Deserialize<'de> for Unique {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueVisitor).map(Unique)
    }
}

struct UniqueVisitor;

impl<'de> de::Visitor<'de> for UniqueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        serde::Deserialize::deserialize(d).map(|Unique(v)| v)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Unique(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Unique(value) = map.next_value()?;
            if object.contains_key(&key) {
                return Err(de::Error::custom(format!("the key `{key}` appears twice")));
            }
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

type Error = serde_json::Error;

fn unexpected(value: &Value) -> de::Unexpected<'_> {
    match value {
        Value::Null => de::Unexpected::Unit,
        Value::Bool(b) => de::Unexpected::Bool(*b),
        Value::Number(_) => de::Unexpected::Other("number"),
        Value::String(s) => de::Unexpected::Str(s),
        Value::Array(_) => de::Unexpected::Seq,
        Value::Object(_) => de::Unexpected::Map,
    }
}

fn text(s: String) -> Result<String, Error> {
    if s.contains('\0') {
        return Err(de::Error::custom(NUL_REFUSED));
    }
    Ok(s)
}

impl<'de> Deserializer<'de> for Strict {
    type Error = Error;

    fn deserialize_any<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Array(items) => visitor.visit_seq(Elements(items.into_iter())),
            Value::Object(map) => visitor.visit_map(Entries::new(map)),
            Value::String(s) => visitor.visit_string(text(s)?),
            scalar => scalar.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            value => visitor.visit_some(Strict(value)),
        }
    }

    fn deserialize_struct<V: de::Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Value::Object(map) => visitor.visit_map(Entries::new(map)),
            other => Err(de::Error::invalid_type(unexpected(&other), &"an object")),
        }
    }

    fn deserialize_newtype_struct<V: de::Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: de::Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        // Roster's request enums are unit variants named by a string.
        match self.0 {
            Value::String(s) => text(s)?
                .into_deserializer()
                .deserialize_enum(name, variants, visitor),
            other => Err(de::Error::invalid_type(unexpected(&other), &"a string")),
        }
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map identifier ignored_any
    }
}

struct Elements(std::vec::IntoIter<Value>);

impl<'de> SeqAccess<'de> for Elements {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        self.0
            .next()
            .map(|item| seed.deserialize(Strict(item)))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct Entries {
    entries: serde_json::map::IntoIter,
    value: Option<Value>,
}

impl Entries {
    fn new(map: Map<String, Value>) -> Self {
        Self {
            entries: map.into_iter(),
            value: None,
        }
    }
}

impl<'de> MapAccess<'de> for Entries {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(value);
        let key: StringDeserializer<Error> = text(key)?.into_deserializer();
        seed.deserialize(key).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let value = self
            .value
            .take()
            .ok_or_else(|| <Error as de::Error>::custom("a value without its key"))?;
        seed.deserialize(Strict(value))
    }
}

/// Refuses a query string with a NUL anywhere in a decoded name or value.
pub fn check_query(query: &str) -> Result<(), &'static str> {
    let nul =
        form_urlencoded::parse(query.as_bytes()).any(|(k, v)| k.contains('\0') || v.contains('\0'));
    if nul { Err(NUL_REFUSED) } else { Ok(()) }
}

/// For patch fields that may be left out but not set to `null`: with
/// `#[serde(default, deserialize_with = "not_null")]`, absent is `None` and
/// `null` is an error, instead of serde's reading of `null` as absent.
pub fn not_null<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::Strict;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        a: Option<i64>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        name: String,
        inner: Option<Inner>,
        #[serde(default)]
        ids: Vec<i64>,
        #[serde(default, deserialize_with = "super::not_null")]
        flag: Option<bool>,
    }

    fn read(v: serde_json::Value) -> Result<Outer, String> {
        Outer::deserialize(Strict(v)).map_err(|e| e.to_string())
    }

    #[test]
    fn objects_read_as_serde_reads_them() {
        let got = read(json!({"name": "x", "inner": {"a": 5}, "ids": [1, 2], "flag": true}));
        assert_eq!(
            got,
            Ok(Outer {
                name: "x".into(),
                inner: Some(Inner { a: Some(5) }),
                ids: vec![1, 2],
                flag: Some(true)
            })
        );
        assert_eq!(
            read(json!({"name": "x", "inner": null})).unwrap().inner,
            None
        );
    }

    #[test]
    fn arrays_never_stand_for_structs() {
        assert!(read(json!(["x", null])).unwrap_err().contains("an object"));
        let nested = read(json!({"name": "x", "inner": [5]})).unwrap_err();
        assert!(nested.contains("an object"), "{nested}");
    }

    #[test]
    fn nul_is_refused_in_values_keys_and_elements() {
        assert!(
            read(json!({"name": "a\u{0}b"}))
                .unwrap_err()
                .contains("NUL")
        );
        assert!(
            read(json!({"name": "a", "x\u{0}": 1}))
                .unwrap_err()
                .contains("NUL")
        );
        let text: Result<Vec<String>, _> = Vec::deserialize(Strict(json!(["ok", "\u{0}"])));
        assert!(text.unwrap_err().to_string().contains("NUL"));
    }

    #[test]
    fn null_is_refused_where_a_field_cannot_be_cleared() {
        assert!(read(json!({"name": "x", "flag": null})).is_err());
        assert_eq!(read(json!({"name": "x"})).unwrap().flag, None);
        assert!(read(json!({"name": "x", "unknown": 1})).is_err());
    }

    #[test]
    fn bodies_name_each_key_once_and_parse_errors_are_told_apart() {
        let twice = super::from_slice::<Outer>(br#"{"name": "a", "inner": {"a": 1, "a": 2}}"#);
        assert!(
            matches!(&twice, Err((false, m)) if m.contains("twice")),
            "{twice:?}"
        );
        let syntax = super::from_slice::<Outer>(br#"{"name": "#);
        assert!(matches!(syntax, Err((true, _))));
        let shape = super::from_slice::<Outer>(br#"{"name": "a", "inner": {"a": "x"}}"#);
        assert!(
            matches!(&shape, Err((false, m)) if m.starts_with("inner.a: ")),
            "{shape:?}"
        );
        assert_eq!(
            super::from_slice::<Outer>(br#"{"name": "a"}"#)
                .unwrap()
                .name,
            "a"
        );
    }

    #[test]
    fn a_query_with_nul_is_refused() {
        assert!(super::check_query("after=y3%00").is_err());
        assert!(super::check_query("email=a%00%40b.c&limit=1").is_err());
        assert!(super::check_query("a%00=1").is_err());
        assert!(super::check_query("email=a%40b.c&after=").is_ok());
    }
}
