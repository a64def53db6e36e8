//! Reads Rust values out of JavaScript ones: records from IndexedDB, answers parsed by
//! `JSON.parse`, settings from a `<select>`. Values are written with serde-wasm-bindgen
//! (`to_value`); they are read here, in the same shapes, because its reader's errors describe
//! the value they met, and describing a number pulls Rust's whole float formatting into the
//! module: 10.9 KB of the first load, brotli (docs/BENCHMARKS.md, P1). These errors say what
//! was expected instead.
//!
//! The shapes, as serde-wasm-bindgen writes them: a struct is an object, a sequence or tuple
//! an array, `None` and `()` are `undefined` (or `null` from JSON), a unit variant is its
//! name as a string and any other variant an object with its name as the one key, integers
//! are numbers (up to 2^53).

use std::fmt;

use js_sys::{Array, Object};
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, EnumAccess, Expected, MapAccess, SeqAccess,
    Unexpected, VariantAccess, Visitor,
};
use wasm_bindgen::{JsCast, JsValue};

/// `value` as a `T`.
pub fn from_value<T: DeserializeOwned>(value: JsValue) -> Result<T, Error> {
    T::deserialize(Reader(value))
}

/// Why a value could not be read as the type asked for.
#[derive(Debug)]
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(message: T) -> Self {
        Self(message.to_string())
    }

    // The two below say only what was expected: see the module's documentation.
    fn invalid_type(_: Unexpected<'_>, expected: &dyn Expected) -> Self {
        Self(format!(
            "a value of the wrong type, where {expected} was expected"
        ))
    }

    fn invalid_value(_: Unexpected<'_>, expected: &dyn Expected) -> Self {
        Self(format!("a wrong value, where {expected} was expected"))
    }
}

/// The largest integer a JavaScript number holds exactly.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

struct Reader(JsValue);

fn wrong_type(expected: &dyn Expected) -> Error {
    de::Error::invalid_type(Unexpected::Other(""), expected)
}

impl<'de> de::Deserializer<'de> for Reader {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let value = self.0;
        if value.is_null() || value.is_undefined() {
            visitor.visit_unit()
        } else if let Some(b) = value.as_bool() {
            visitor.visit_bool(b)
        } else if let Some(n) = value.as_f64() {
            if n.fract() == 0.0 && n.abs() <= MAX_SAFE_INTEGER {
                // Exact: both casts are within range (checked just above).
                if n >= 0.0 {
                    visitor.visit_u64(n as u64)
                } else {
                    visitor.visit_i64(n as i64)
                }
            } else {
                visitor.visit_f64(n)
            }
        } else if let Some(s) = value.as_string() {
            visitor.visit_string(s)
        } else if Array::is_array(&value) {
            visitor.visit_seq(Items {
                items: Array::from(&value),
                at: 0,
            })
        } else if value.is_object() {
            visitor.visit_map(Entries {
                entries: Object::entries(value.unchecked_ref()),
                at: 0,
                next_value: None,
            })
        } else {
            Err(wrong_type(&visitor))
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.0.is_null() || self.0.is_undefined() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        if self.0.is_string() {
            return visitor.visit_enum(Variant {
                name: self.0,
                content: None,
            });
        }
        let entries = self
            .0
            .dyn_ref::<Object>()
            .filter(|_| !Array::is_array(&self.0))
            .map(Object::entries);
        match entries {
            Some(entries) if entries.length() == 1 => {
                let entry = Array::from(&entries.get(0));
                visitor.visit_enum(Variant {
                    name: entry.get(0),
                    content: Some(entry.get(1)),
                })
            }
            _ => Err(wrong_type(&visitor)),
        }
    }

    // The rest read only the shape their type is written in, so that each type's reader
    // holds one branch, not every shape `deserialize_any` tells apart.

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0.as_bool() {
            Some(b) => visitor.visit_bool(b),
            None => Err(wrong_type(&visitor)),
        }
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0.as_f64() {
            // Exact: a whole number within range.
            Some(n) if n.fract() == 0.0 && (0.0..=MAX_SAFE_INTEGER).contains(&n) => {
                visitor.visit_u64(n as u64)
            }
            _ => Err(wrong_type(&visitor)),
        }
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0.as_f64() {
            // Exact: a whole number within range.
            Some(n) if n.fract() == 0.0 && n.abs() <= MAX_SAFE_INTEGER => {
                visitor.visit_i64(n as i64)
            }
            _ => Err(wrong_type(&visitor)),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0.as_string() {
            Some(s) => visitor.visit_string(s),
            None => Err(wrong_type(&visitor)),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if Array::is_array(&self.0) {
            visitor.visit_seq(Items {
                items: Array::from(&self.0),
                at: 0,
            })
        } else {
            Err(wrong_type(&visitor))
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.0.is_object() && !Array::is_array(&self.0) {
            visitor.visit_map(Entries {
                entries: Object::entries(self.0.unchecked_ref()),
                at: 0,
                next_value: None,
            })
        } else {
            Err(wrong_type(&visitor))
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_map(visitor)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.0.is_null() || self.0.is_undefined() {
            visitor.visit_unit()
        } else {
            Err(wrong_type(&visitor))
        }
    }

    /// A property this build does not know (written by a newer one, or sent by the server):
    /// skipped without reading it.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i128 u8 u16 u32 u128 f32 f64 char bytes byte_buf unit_struct tuple_struct
    }
}

/// An array's items, read in order.
struct Items {
    items: Array,
    at: u32,
}

/// The item of `array` at `at`, and `at` moved past it; `None` after the last.
fn next_of(array: &Array, at: &mut u32) -> Option<JsValue> {
    (*at < array.length()).then(|| {
        *at += 1;
        array.get(*at - 1)
    })
}

impl<'de> SeqAccess<'de> for Items {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        next_of(&self.items, &mut self.at)
            .map(|item| seed.deserialize(Reader(item)))
            .transpose()
    }
}

/// An object's own properties (`Object.entries`), read in order.
struct Entries {
    entries: Array,
    at: u32,
    next_value: Option<JsValue>,
}

impl<'de> MapAccess<'de> for Entries {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some(entry) = next_of(&self.entries, &mut self.at) else {
            return Ok(None);
        };
        let entry = Array::from(&entry);
        self.next_value = Some(entry.get(1));
        seed.deserialize(Reader(entry.get(0))).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        // `next_key_seed` always came first; a missing value reads as `undefined`.
        seed.deserialize(Reader(self.next_value.take().unwrap_or(JsValue::UNDEFINED)))
    }
}

/// An enum's variant: its name, and what it holds unless it is a unit variant.
struct Variant {
    name: JsValue,
    content: Option<JsValue>,
}

impl<'de> EnumAccess<'de> for Variant {
    type Error = Error;
    type Variant = Content;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Content), Error> {
        let variant = seed.deserialize(Reader(self.name))?;
        Ok((variant, Content(self.content)))
    }
}

/// What a variant holds (`None` for a unit variant).
struct Content(Option<JsValue>);

impl Content {
    fn value(self) -> Result<Reader, Error> {
        self.0
            .map(Reader)
            .ok_or_else(|| Error("a unit variant where one holding a value was expected".into()))
    }
}

impl<'de> VariantAccess<'de> for Content {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        match self.0 {
            None => Ok(()),
            Some(value) => de::Deserialize::deserialize(Reader(value)),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self.value()?)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_any(self.value()?, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_any(self.value()?, visitor)
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Debug;

    use outpost_core::merge::ConflictPolicy;
    use outpost_core::sync::{LocalRecord, PhotoUnavailable, Resolution, SyncProblem};
    use outpost_core::wire::{ErrorBody, ServerProfile};
    use serde::Serialize;
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;
    use crate::data::services::{Settings, StoredSession};

    /// `text` (JSON) read as a `T` by this reader and by serde-wasm-bindgen's: the same value,
    /// or both refuse it. Returns this reader's answer.
    fn read<T: DeserializeOwned + PartialEq + Debug>(text: &str) -> Option<T> {
        let parse = || js_sys::JSON::parse(text).expect("test JSON");
        let ours = from_value::<T>(parse()).ok();
        let theirs = serde_wasm_bindgen::from_value::<T>(parse()).ok();
        assert_eq!(ours, theirs, "{text}");
        ours
    }

    /// `value` written by serde-wasm-bindgen (as the app stores it) reads back equal.
    fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T) {
        let written = serde_wasm_bindgen::to_value(value).expect("written");
        assert_eq!(&from_value::<T>(written).expect("read back"), value);
    }

    const PROFILE: &str = r#"{"name":"Ann","photo_url":"","version":7,"updated_at":"t7","mutation_id":"m7",
            "field_versions":{"name":3,"photo_url":7}}"#;

    #[wasm_bindgen_test]
    fn reads_every_record_the_app_stores_as_it_was_written() {
        let fields = r#"{"name":"Ann","photo_url":"/api/photos/ab"}"#;
        let write = format!(
            r#"{{"mutation":"m8","fields":{fields},"if_match":7,"changes":["name","photo_url"]}}"#
        );
        let full = format!(
            r#"{{"local":{fields},"base":{PROFILE},"synchronized":false,"changed_at":1700000000123,
              "last_synced_at":1700000000000,
              "conflict":{{"fields":[{{"field":"name","mine":"Ann","theirs":"Bo"}}],
                          "remote":{PROFILE},"ancestor":{fields}}},
              "sent":{write},"changed":["name"],"prepared":{write},"prepared_photo":"ab",
              "answer":{PROFILE},"own":[["name","Ann"],["photo_url","",7]],"online_sent":{write},
              "revision":42,"photos_on_server":["ab"]}}"#
        );
        let record = read::<LocalRecord>(&full).expect("a full record");
        assert_eq!(record.revision, 42);
        // An own value stored before field versions (matched by value) and one with its version.
        let versions: Vec<_> = record.own.iter().map(|o| o.version).collect();
        assert_eq!(versions, [0, 7]);
        let field_versions = record.base.as_ref().and_then(|b| b.field_versions);
        assert_eq!(field_versions.map(|v| (v.name, v.photo_url)), Some((3, 7)));
        round_trip(&record);
        // A record of an older build: the fields added since take their defaults; a newer
        // build's extra property is skipped.
        let older = format!(
            r#"{{"local":{fields},"base":null,"synchronized":true,"changed_at":null,
              "last_synced_at":null,"from_a_newer_build":{{"x":[1,2]}}}}"#
        );
        let record = read::<LocalRecord>(&older).expect("an older record");
        assert_eq!((record.revision, &record.sent), (0, &None));
        round_trip(&record);

        let session = read::<StoredSession>(r#"{"account":"ann","token":null}"#);
        assert_eq!(session.map(|s| s.token), Some(None));
        let settings = read::<Settings>(r#"{"conflict_policy":"local-wins"}"#).expect("settings");
        assert_eq!(settings.conflict_policy, ConflictPolicy::LocalWins);
        round_trip(&settings);
    }

    #[wasm_bindgen_test]
    fn reads_the_servers_answers_and_enums() {
        let body = r#"{"error":"stale_version","message":"Changed.","current":
            {"name":"Bo","photo_url":"","version":3,"updated_at":"t3","extra":true}}"#;
        let error = read::<ErrorBody>(body).expect("an error body");
        assert_eq!(error.current.map(|c| c.version), Some(3));
        assert_eq!(
            read::<ConflictPolicy>(r#""remote-wins""#),
            Some(ConflictPolicy::RemoteWins)
        );
        round_trip(&Resolution::KeepMine);
        round_trip(&Resolution::Edit(Default::default()));
        round_trip(&SyncProblem::Refused("No.".to_owned()));
        round_trip(&vec![SyncProblem::Busy, SyncProblem::SignedOut]);
        round_trip(&SyncProblem::Photo(PhotoUnavailable::NotHere));
    }

    #[wasm_bindgen_test]
    fn refuses_values_of_the_wrong_shape_in_words() {
        for wrong in [
            r#"{"name":"Ann","photo_url":"","version":"7","updated_at":"t"}"#,
            r#"{"name":"Ann","photo_url":"","version":7.5,"updated_at":"t"}"#,
            r#"{"name":"Ann","photo_url":"","version":-1,"updated_at":"t"}"#,
            r#"{"name":"Ann","photo_url":"","version":9007199254740993,"updated_at":"t"}"#,
            r#"{"name":"Ann","photo_url":"","updated_at":"t"}"#,
            r#"{"name":null,"photo_url":"","version":1,"updated_at":"t"}"#,
            r#"["Ann","",7,"t"]"#,
            r#""Ann""#,
            "null",
        ] {
            assert_eq!(read::<ServerProfile>(wrong), None, "{wrong}");
        }
        assert_eq!(read::<ConflictPolicy>(r#""sometimes""#), None);
        assert_eq!(read::<ConflictPolicy>(r#"{"ask":1,"local-wins":2}"#), None);
        let error = from_value::<ServerProfile>(JsValue::from_str("Ann")).expect_err("refused");
        assert!(
            error.to_string().contains("struct ServerProfile"),
            "{error}"
        );
    }
}
