//! JSON lines read into a tree that borrows from the line.
//!
//! Why: a JSON log's lines that pass the prefilter are mostly noise that merely mentions an
//! OAuth word, and a `serde_json::Value` for each cost a `String` per key and per string, a
//! B-tree per object, and as much again to drop. This tree holds exactly what a `Value`
//! would (same parser, same errors and depth limit, serde_json's `Number`, keys in `Map`
//! order with the last of a repeated key), so the reader in `json_log` sees no difference.

use serde::de::{Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};
use std::borrow::Cow;
use std::fmt;

/// A JSON record as it is read: strings without escapes stay slices of the line, and an
/// object is a list of pairs. Parsing a line into a `serde_json::Value` cost a `String`
/// per key and per string and a B-tree per object, and as much again to drop, for records
/// of which most make no event.
///
/// It holds what a `Value` would: the same parser reads it (same errors, same depth
/// limit), numbers are serde_json's `Number`, and an object keeps the keys of `Value`'s
/// `Map` (a B-tree): in byte order, a repeated key with its last value.
#[derive(Clone, Debug)]
pub(super) enum Json<'a> {
    Null,
    Bool(bool),
    Number(Number),
    String(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

/// An object's pairs while they are read.
type Pairs<'a> = Vec<(Cow<'a, str>, Json<'a>)>;

impl<'a> Json<'a> {
    /// Reads a line as `serde_json::from_str` reads it into a `Value`.
    pub(super) fn parse(line: &'a str) -> serde_json::Result<Json<'a>> {
        thread_local! {
            static STACK: std::cell::Cell<Pairs<'static>> = const { std::cell::Cell::new(Vec::new()) };
        }
        // The stack is kept from line to line: a new one for each cost an allocation too
        // large for the allocator's per-thread cache.
        let mut stack = recycle(STACK.take());
        if stack.capacity() == 0 {
            stack.reserve(64);
        }
        let mut de = serde_json::Deserializer::from_str(line);
        let v = Tree(&mut stack)
            .deserialize(&mut de)
            .and_then(|v| de.end().map(|()| v));
        STACK.set(recycle(stack));
        match v {
            // Only a `Value` knows what that key makes of the object.
            Err(e) if e.to_string().starts_with(RAW_VALUE_KEY) => {
                serde_json::from_str::<Value>(line).map(|v| Json::from(&v).into_owned())
            }
            v => v,
        }
    }

    /// The same value, holding its own strings.
    pub(super) fn into_owned(self) -> Json<'static> {
        let own = |s: Cow<str>| Cow::Owned(s.into_owned());
        match self {
            Json::Null => Json::Null,
            Json::Bool(b) => Json::Bool(b),
            Json::Number(n) => Json::Number(n),
            Json::String(s) => Json::String(own(s)),
            Json::Array(a) => Json::Array(a.into_iter().map(Json::into_owned).collect()),
            Json::Object(pairs) => Json::Object(
                pairs
                    .into_iter()
                    .map(|(k, v)| (own(k), v.into_owned()))
                    .collect(),
            ),
        }
    }

    /// The object of the pairs `stack` has from `start` on, which it takes off the stack,
    /// keyed as `Value`'s `Map` keys them (see [`Json`]).
    fn object(stack: &mut Pairs<'a>, start: usize) -> Json<'a> {
        let Some(read) = stack.get_mut(start..) else {
            return Json::Object(Vec::new());
        };
        // Stable: of the pairs of a repeated key, the last one read is last.
        read.sort_by(|a, b| key_order(&a.0, &b.0));
        let mut pairs: Pairs = Vec::with_capacity(read.len());
        for (k, v) in stack.drain(start..) {
            match pairs.last_mut() {
                Some(last) if last.0 == k => last.1 = v,
                _ => pairs.push((k, v)),
            }
        }
        Json::Object(pairs)
    }

    /// The value of an object's key (exact).
    pub(super) fn get(&self, key: &str) -> Option<&Json<'a>> {
        let Json::Object(pairs) = self else {
            return None;
        };
        let at = pairs.binary_search_by(|(k, _)| k.as_ref().cmp(key)).ok()?;
        pairs.get(at).map(|(_, v)| v)
    }

    pub(super) fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    pub(super) fn as_array(&self) -> Option<&[Json<'a>]> {
        match self {
            Json::Array(a) => Some(a),
            _ => None,
        }
    }

    pub(super) fn is_object(&self) -> bool {
        matches!(self, Json::Object(_))
    }
}

/// An empty vector holding `v`'s allocation, for elements that differ only in lifetime,
/// so that a buffer of borrowed elements can be kept between the texts it borrows from.
/// (Collecting a vector's own iterator reuses its allocation when the element layouts
/// agree, as they do here; were that not so, this would allocate, nothing worse.)
pub(super) fn recycle<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter()
        .map(|_| unreachable!("the vector is empty"))
        .collect()
}

/// Logfmt and text records are built as `Value`s; they are read as the same tree.
impl<'a> From<&'a Value> for Json<'a> {
    fn from(v: &'a Value) -> Json<'a> {
        match v {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Number(n) => Json::Number(n.clone()),
            Value::String(s) => Json::String(Cow::Borrowed(s)),
            Value::Array(a) => Json::Array(a.iter().map(Json::from).collect()),
            // A `Map` has its keys in order, each once.
            Value::Object(m) => Json::Object(
                m.iter()
                    .map(|(k, v)| (Cow::Borrowed(k.as_str()), Json::from(v)))
                    .collect(),
            ),
        }
    }
}

/// A key serde_json's `Value` reads as no key: an object whose first key it is stands for
/// the JSON text in its value (serde_json's `raw_value` feature, which this crate has on).
/// [`Tree`] gives up on such a line, and [`Json::parse`] reads it as a `Value`.
const RAW_VALUE_KEY: &str = "$serde_json::private::RawValue";

/// Byte order, as `str`'s `Ord`. Keys mostly differ in their first byte, which is
/// compared here without the call to compare whole keys.
#[inline]
fn key_order(a: &str, b: &str) -> std::cmp::Ordering {
    match a.as_bytes().first().cmp(&b.as_bytes().first()) {
        std::cmp::Ordering::Equal => a.cmp(b),
        first => first,
    }
}

/// Builds a [`Json`] as serde_json's `Value` visitor builds a `Value`. The pairs of the
/// objects being read wait on one stack for the line, so that each object is allocated
/// once, at its size.
struct Tree<'s, 'a>(&'s mut Pairs<'a>);

impl<'de> DeserializeSeed<'de> for Tree<'_, 'de> {
    type Value = Json<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Json<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Tree<'_, 'de> {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Json<'de>, E> {
        Ok(Number::from_f64(f).map_or(Json::Null, Json::Number))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s.to_string())))
    }

    fn visit_string<E>(self, s: String) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Tree(self.0))? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let start = self.0.len();
        while let Some(Key(k)) = map.next_key()? {
            if self.0.len() == start && k == RAW_VALUE_KEY {
                return Err(serde::de::Error::custom(RAW_VALUE_KEY));
            }
            let v = map.next_value_seed(Tree(self.0))?;
            self.0.push((k, v));
        }
        Ok(Json::object(self.0, start))
    }
}

/// An object's key, borrowed from the line when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key<'de>, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(s.to_string())))
    }

    fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recycled_buffer_keeps_its_allocation() {
        let kept: Pairs<'static> = Vec::with_capacity(64);
        let line = String::from("borrowed");
        let mut again: Pairs<'_> = recycle(kept);
        assert!(again.capacity() >= 64);
        again.push((Cow::Borrowed(&line), Json::Null));
        let back: Pairs<'static> = recycle(again);
        assert!(back.is_empty() && back.capacity() >= 64);
    }

    #[test]
    fn a_line_reads_as_its_value() {
        // Key order, repeated keys, escapes, numbers and nulls as `Value` has them.
        for line in [
            r#"{"b":1,"a":{"z":[1,2.0,-3,1e300,18446744073709551616],"y":null},"b":"last"}"#,
            r#"{"k\u0065y":"v\"q","key":"x","":true,"é":false,"E":0.1,"e":-0}"#,
            r#"{"Records":[{"eventName":"A"},3,"x"],"n":123456789012345678901234567890}"#,
            r#"{"a":{"$serde_json::private::RawValue":"{\"z\":[1]}"},"b":2}"#,
        ] {
            let value: Value = serde_json::from_str(line).unwrap();
            let json = Json::parse(line).unwrap();
            assert_eq!(format!("{json:?}"), format!("{:?}", Json::from(&value)));
        }
        // The same errors, the depth limit's included.
        for line in [
            "[".repeat(200),
            r#"{"a":1,}"#.to_string(),
            "{\"a\"".to_string(),
            r#"{"a":{"\u0024serde_json::private::RawValue":"{","b":1}}"#.to_string(),
            r#"{"$serde_json::private::RawValue":"{}","b":1}"#.to_string(),
            r#"{"$serde_json::private::RawValue":1}"#.to_string(),
        ] {
            let value = serde_json::from_str::<Value>(&line).unwrap_err();
            let json = Json::parse(&line).unwrap_err();
            assert_eq!(json.to_string(), value.to_string());
        }
    }
}
