//! Config maps whose values may be written as numbers or booleans (`auto_update_interval: 15`)
//! but are kept as strings, as LXD keeps them. Lists and maps are refused.
//!
//! Numbers are stored as their value's text (`1.50` becomes "1.5"); quote a value to keep its
//! exact spelling. A null value (`key:` with nothing after) becomes "", which means unset.
//! A key given twice is refused.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

/// A config value read from any scalar.
struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor).map(Scalar)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, number or boolean (config values are text, not lists or maps)")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_unit<E: de::Error>(self) -> Result<String, E> {
        Ok(String::new())
    }

    fn visit_none<E: de::Error>(self) -> Result<String, E> {
        Ok(String::new())
    }
}

/// A map that refuses a key given twice (YAML would otherwise keep the last one silently).
struct UniqueMap<V>(BTreeMap<String, V>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for UniqueMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(UniqueMapVisitor(PhantomData))
    }
}

struct UniqueMapVisitor<V>(PhantomData<V>);

impl<'de, V: Deserialize<'de>> Visitor<'de> for UniqueMapVisitor<V> {
    type Value = UniqueMap<V>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of keys to values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut map = BTreeMap::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "duplicate key `{key}`; give each key only once"
                )));
            }
            let value = access.next_value()?;
            map.insert(key, value);
        }
        Ok(UniqueMap(map))
    }
}

/// Deserialises a string-to-scalar map into strings (for `#[serde(deserialize_with)]`).
pub(crate) fn map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let raw = Option::<UniqueMap<Scalar>>::deserialize(d)?;
    Ok(strings(raw))
}

/// Deserialises profile devices: device name to a map of scalars.
pub(crate) fn devices<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, BTreeMap<String, String>>, D::Error> {
    let raw = Option::<UniqueMap<Option<UniqueMap<Scalar>>>>::deserialize(d)?;
    Ok(raw
        .map(|m| m.0)
        .unwrap_or_default()
        .into_iter()
        .map(|(name, dev)| (name, strings(dev)))
        .collect())
}

fn strings(raw: Option<UniqueMap<Scalar>>) -> BTreeMap<String, String> {
    raw.map(|m| m.0)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect()
}
