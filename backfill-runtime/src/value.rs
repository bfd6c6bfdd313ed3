//! Key values as the runtime binds them and stores them in the cursor.

use std::fmt;

use crate::definition::KeyKind;

/// One part of a key value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyValue {
    /// An integer key part, bound as `i64`.
    Int(i64),
    /// An unsigned 64-bit key part (MySQL/MariaDB `BIGINT UNSIGNED`), bound as `u64`.
    UInt(u64),
    /// A text key part.
    Text(String),
    /// A binary key part, compared byte by byte.
    Bytes(Vec<u8>),
}

impl KeyValue {
    /// The kind of this value.
    pub fn kind(&self) -> KeyKind {
        match self {
            KeyValue::Int(_) => KeyKind::Int,
            KeyValue::UInt(_) => KeyKind::UInt,
            KeyValue::Text(_) => KeyKind::Text,
            KeyValue::Bytes(_) => KeyKind::Bytes,
        }
    }

    fn to_json(&self) -> serde_json::Value {
        match self {
            KeyValue::Int(i) => serde_json::Value::from(*i),
            KeyValue::UInt(u) => serde_json::Value::from(*u),
            KeyValue::Text(s) => serde_json::Value::from(s.as_str()),
            KeyValue::Bytes(b) => serde_json::Value::from(hex(b)),
        }
    }
}

/// Lowercase hex digits of `bytes`: how a binary key part is stored in the cursor.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of lowercase or uppercase hex digits; `None` if they are not hex.
fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

impl fmt::Display for KeyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyValue::Int(i) => write!(f, "{i}"),
            KeyValue::UInt(u) => write!(f, "{u}"),
            KeyValue::Text(s) => write!(f, "{s:?}"),
            KeyValue::Bytes(b) => write!(f, "x'{}'", hex(b)),
        }
    }
}

/// A whole key: one value per key column, in key order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key(pub Vec<KeyValue>);

impl Key {
    /// The key as stored in the progress table: a JSON array (`[42]`, `[7, "eu"]`).
    pub fn to_json(&self) -> String {
        serde_json::Value::Array(self.0.iter().map(KeyValue::to_json).collect()).to_string()
    }

    /// Reads a key stored by [`Key::to_json`], checking it against the key's kinds.
    pub fn from_json(text: &str, kinds: &[KeyKind]) -> Result<Key, String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("cursor {text:?} is not JSON: {e}"))?;
        let items = value
            .as_array()
            .ok_or_else(|| format!("cursor {text:?} is not a JSON array"))?;
        if items.len() != kinds.len() {
            return Err(format!(
                "cursor {text:?} has {} key parts, the key has {}",
                items.len(),
                kinds.len()
            ));
        }
        items
            .iter()
            .zip(kinds)
            .map(|(item, kind)| match (kind, item) {
                (KeyKind::Int, serde_json::Value::Number(n)) => n
                    .as_i64()
                    .map(KeyValue::Int)
                    .ok_or_else(|| format!("cursor {text:?}: {n} is not a 64-bit integer")),
                (KeyKind::UInt, serde_json::Value::Number(n)) => {
                    n.as_u64().map(KeyValue::UInt).ok_or_else(|| {
                        format!("cursor {text:?}: {n} is not an unsigned 64-bit integer")
                    })
                }
                (KeyKind::Text, serde_json::Value::String(s)) => Ok(KeyValue::Text(s.clone())),
                (KeyKind::Bytes, serde_json::Value::String(s)) => unhex(s)
                    .map(KeyValue::Bytes)
                    .ok_or_else(|| format!("cursor {text:?}: {s:?} is not hex digits")),
                (kind, other) => Err(format!(
                    "cursor {text:?}: {other} is not a {kind:?} key part"
                )),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Key)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.len() == 1 {
            return write!(f, "{}", self.0[0]);
        }
        f.write_str("(")?;
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{v}")?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_through_json() {
        let key = Key(vec![KeyValue::Int(-7), KeyValue::Text("it's \"x\"".into())]);
        let text = key.to_json();
        assert_eq!(text, r#"[-7,"it's \"x\""]"#);
        assert_eq!(
            Key::from_json(&text, &[KeyKind::Int, KeyKind::Text]),
            Ok(key)
        );
    }

    #[test]
    fn unsigned_and_binary_parts_round_trip_exactly() {
        let key = Key(vec![
            KeyValue::UInt(u64::MAX),
            KeyValue::Bytes(vec![0x00, 0x61, 0xfe, 0xff]),
        ]);
        let text = key.to_json();
        assert_eq!(text, r#"[18446744073709551615,"0061feff"]"#);
        assert_eq!(
            Key::from_json(&text, &[KeyKind::UInt, KeyKind::Bytes]),
            Ok(key.clone())
        );
        assert_eq!(key.to_string(), "(18446744073709551615, x'0061feff')");
        assert!(Key::from_json("[-1]", &[KeyKind::UInt]).is_err());
        assert!(Key::from_json(r#"["6g"]"#, &[KeyKind::Bytes]).is_err());
    }

    #[test]
    fn cursor_of_another_shape_is_refused_with_the_reason() {
        let err = Key::from_json("[1]", &[KeyKind::Int, KeyKind::Int]).unwrap_err();
        assert!(err.contains("has 1 key parts, the key has 2"), "{err}");
        let err = Key::from_json("[\"a\"]", &[KeyKind::Int]).unwrap_err();
        assert!(err.contains("is not a Int key part"), "{err}");
    }
}
