//! Key values as the runtime binds them and stores them in the cursor.

use std::fmt;

use crate::definition::KeyKind;

/// One part of a key value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyValue {
    /// An integer key part, bound as `i64`.
    Int(i64),
    /// A text key part.
    Text(String),
}

impl KeyValue {
    /// The kind of this value.
    pub fn kind(&self) -> KeyKind {
        match self {
            KeyValue::Int(_) => KeyKind::Int,
            KeyValue::Text(_) => KeyKind::Text,
        }
    }

    fn to_json(&self) -> serde_json::Value {
        match self {
            KeyValue::Int(i) => serde_json::Value::from(*i),
            KeyValue::Text(s) => serde_json::Value::from(s.as_str()),
        }
    }
}

impl fmt::Display for KeyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyValue::Int(i) => write!(f, "{i}"),
            KeyValue::Text(s) => write!(f, "{s:?}"),
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
                (KeyKind::Text, serde_json::Value::String(s)) => Ok(KeyValue::Text(s.clone())),
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
    fn cursor_of_another_shape_is_refused_with_the_reason() {
        let err = Key::from_json("[1]", &[KeyKind::Int, KeyKind::Int]).unwrap_err();
        assert!(err.contains("has 1 key parts, the key has 2"), "{err}");
        let err = Key::from_json("[\"a\"]", &[KeyKind::Int]).unwrap_err();
        assert!(err.contains("is not a Int key part"), "{err}");
    }
}
