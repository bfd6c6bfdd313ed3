//! Shards: how several workers share one job. The key span is cut into ranges
//! `cursor < key <= end`, one progress row each ([`crate::progress`]); this file holds what the
//! batch loop needs to work inside a shard's end and to cut a shard in two: ordering two keys
//! exactly as the batches' ranges order them ([`KeyOrder`]), and choosing where to split
//! ([`split_point`]).
//!
//! Integer and binary key parts are ordered in Rust (their order is the database's); a text
//! part is ordered by the database, cast to the target key column's type with its collation
//! (preflight has checked the source key has the same), since only the server knows the
//! collation's order.

// Parts serve only some engines; a build with fewer engine features leaves them unused.
#![cfg_attr(
    not(all(feature = "postgres", feature = "mysql", feature = "sqlite")),
    allow(dead_code)
)]

use std::cmp::Ordering;

use crate::definition::{Definition, Engine, KeyKind};
use crate::engine::{self, Conn, DecodeAs, Driver, TableName, Value};
use crate::value::{Key, KeyValue};

/// Orders keys as the generated statements' ranges order them.
#[derive(Debug, Clone)]
pub(crate) struct KeyOrder {
    /// `SELECT` of -1, 0 or 1 for (a) compared with (b), binding a, b, a, b; `None` for a key
    /// without text parts, ordered in Rust alone.
    sql: Option<String>,
}

impl KeyOrder {
    /// Reads the target key columns' types and collations (for text parts).
    pub(crate) async fn load<D: Driver>(
        conn: &mut Conn<D>,
        def: &Definition,
    ) -> Result<KeyOrder, String> {
        if !def.key.iter().any(|k| k.kind == KeyKind::Text) {
            return Ok(KeyOrder { sql: None });
        }
        let table = TableName::parse(def.table).map_err(|e| e.to_string())?;
        let mut parts = Vec::new();
        for part in def.key {
            let sql = match (part.kind, D::ENGINE) {
                (KeyKind::Text, _) => D::key_text_order(conn, &table, part.column)
                    .await
                    .map_err(|e| {
                        format!(
                            "reading the collation of {}.{}: {e}",
                            def.table, part.column
                        )
                    })?
                    .ok_or_else(|| {
                        format!(
                            "the catalog does not describe the key column {}.{}",
                            def.table, part.column
                        )
                    })?,
                (KeyKind::Int, Engine::Postgres) => "CAST(? AS BIGINT)".to_string(),
                (KeyKind::Bytes, Engine::Postgres) => "CAST(? AS BYTEA)".to_string(),
                _ => "?".to_string(),
            };
            parts.push(sql);
        }
        let row = parts.join(", ");
        let int = D::BIGINT_CAST;
        let sql = format!(
            "SELECT CAST(CASE WHEN ({row}) < ({row}) THEN -1 WHEN ({row}) = ({row}) THEN 0 ELSE 1 END AS {int})"
        );
        Ok(KeyOrder {
            sql: Some(engine::placeholders::<D>(&sql)),
        })
    }

    /// How `a` compares with `b`: in Rust up to the first text part that differs, then by
    /// the database.
    pub(crate) async fn cmp<D: Driver>(
        &self,
        conn: &mut Conn<D>,
        a: &Key,
        b: &Key,
    ) -> Result<Ordering, sqlx::Error> {
        for (x, y) in a.0.iter().zip(&b.0) {
            match (x, y) {
                (KeyValue::Text(s), KeyValue::Text(t)) if s == t => continue,
                (KeyValue::Text(_), KeyValue::Text(_)) => {
                    return self.by_server::<D>(conn, a, b).await
                }
                _ => match x.cmp(y) {
                    Ordering::Equal => continue,
                    other => return Ok(other),
                },
            }
        }
        Ok(Ordering::Equal)
    }

    async fn by_server<D: Driver>(
        &self,
        conn: &mut Conn<D>,
        a: &Key,
        b: &Key,
    ) -> Result<Ordering, sqlx::Error> {
        let Some(sql) = &self.sql else {
            return Ok(a.cmp(b));
        };
        let values = |k: &Key| k.0.iter().map(Value::from).collect::<Vec<_>>();
        let binds: Vec<Value> = [values(a), values(b), values(a), values(b)].concat();
        let rows = D::fetch_all(conn, sql, &binds, &[DecodeAs::Int]).await?;
        Ok(match rows.first().and_then(|r| r[0].int()) {
            Some(n) if n < 0 => Ordering::Less,
            Some(0) => Ordering::Equal,
            _ => Ordering::Greater,
        })
    }
}

/// The smallest value of each kind, for the key parts after the first of a split key: a
/// split key `(m, MIN, ...)` lies strictly between two keys whose first parts are below and
/// above `m`, whatever their other parts.
fn smallest(kind: KeyKind) -> KeyValue {
    match kind {
        KeyKind::Int => KeyValue::Int(i64::MIN),
        KeyKind::UInt => KeyValue::UInt(0),
        KeyKind::Text => KeyValue::Text(String::new()),
        KeyKind::Bytes => KeyValue::Bytes(Vec::new()),
    }
}

/// The first key part of an integer key as `i128` (`None` for text and binary parts).
pub(crate) fn first_int(key: &Key) -> Option<i128> {
    match key.0.first()? {
        KeyValue::Int(i) => Some(i128::from(*i)),
        KeyValue::UInt(u) => Some(i128::from(*u)),
        _ => None,
    }
}

/// For a key whose first part is an integer: the remaining width of a shard on the first
/// part, from `cursor` (or the source's smallest first part, `min`) to `end` (or the
/// largest, `max`); `None` for other keys.
pub(crate) fn width(
    cursor: Option<&Key>,
    end: Option<&Key>,
    span: Option<(i128, i128)>,
) -> Option<i128> {
    let (min, max) = span?;
    let from = match cursor {
        Some(c) => first_int(c)?,
        None => min - 1,
    };
    let to = match end {
        Some(e) => first_int(e)?,
        None => max,
    };
    Some(to - from)
}

/// The key halfway through a shard's remaining first-key range, strictly inside it, for an
/// integer first key part; `None` when the range is narrower than `min_width` (too small to
/// be worth a split) or the key is not of that kind.
pub(crate) fn split_point(
    kinds: &[KeyKind],
    cursor: Option<&Key>,
    end: Option<&Key>,
    span: Option<(i128, i128)>,
    min_width: i128,
) -> Option<Key> {
    let (min, max) = span?;
    let from = match cursor {
        Some(c) => first_int(c)?,
        None => min - 1,
    };
    let to = match end {
        Some(e) => first_int(e)?,
        None => max,
    };
    if to - from < min_width.max(2) {
        return None;
    }
    let mid = from + (to - from) / 2;
    let first = match kinds.first()? {
        KeyKind::Int => KeyValue::Int(i64::try_from(mid).ok()?),
        KeyKind::UInt => KeyValue::UInt(u64::try_from(mid).ok()?),
        _ => return None,
    };
    Some(Key(std::iter::once(first)
        .chain(kinds[1..].iter().map(|k| smallest(*k)))
        .collect()))
}

/// The initial plan of an integer first key: `workers - 1` split keys cutting `[min, max]`
/// into equal widths (fewer when the span is narrower than the workers).
pub(crate) fn initial_cuts(kinds: &[KeyKind], span: (i128, i128), workers: u32) -> Vec<Key> {
    let (min, max) = span;
    let width = max - min + 1;
    let n = i128::from(workers.max(1));
    let mut cuts: Vec<Key> = Vec::new();
    for i in 1..n {
        let at = min - 1 + width * i / n;
        if at < min || at >= max {
            continue;
        }
        let first = match kinds.first() {
            Some(KeyKind::Int) => i64::try_from(at).ok().map(KeyValue::Int),
            Some(KeyKind::UInt) => u64::try_from(at).ok().map(KeyValue::UInt),
            _ => None,
        };
        let Some(first) = first else { continue };
        let key = Key(std::iter::once(first)
            .chain(kinds[1..].iter().map(|k| smallest(*k)))
            .collect());
        if cuts.last() != Some(&key) {
            cuts.push(key);
        }
    }
    cuts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(i: i64) -> Key {
        Key(vec![KeyValue::Int(i)])
    }

    #[test]
    fn a_split_lies_strictly_inside_the_remaining_range() {
        let kinds = [KeyKind::Int];
        let span = Some((1, 100));
        assert_eq!(split_point(&kinds, None, None, span, 2), Some(int(50)));
        assert_eq!(
            split_point(&kinds, Some(&int(50)), Some(&int(60)), span, 2),
            Some(int(55))
        );
        assert_eq!(
            split_point(&kinds, Some(&int(58)), Some(&int(60)), span, 2),
            Some(int(59))
        );
        assert_eq!(
            split_point(&kinds, Some(&int(59)), Some(&int(60)), span, 2),
            None
        );
        assert_eq!(
            split_point(&kinds, Some(&int(10)), Some(&int(60)), span, 100),
            None
        );
    }

    #[test]
    fn a_composite_split_key_takes_the_smallest_later_parts() {
        let kinds = [KeyKind::Int, KeyKind::Text];
        let cursor = Key(vec![KeyValue::Int(3), KeyValue::Text("zz".into())]);
        assert_eq!(
            split_point(&kinds, Some(&cursor), None, Some((1, 9)), 2),
            Some(Key(vec![KeyValue::Int(6), KeyValue::Text(String::new())]))
        );
        assert_eq!(
            split_point(&[KeyKind::Text], None, None, Some((1, 9)), 2),
            None
        );
    }

    #[test]
    fn the_initial_plan_cuts_equal_widths() {
        assert_eq!(
            initial_cuts(&[KeyKind::Int], (1, 100), 4),
            vec![int(25), int(50), int(75)]
        );
        assert_eq!(initial_cuts(&[KeyKind::Int], (1, 2), 4), vec![int(1)]);
        assert!(initial_cuts(&[KeyKind::Int], (5, 5), 4).is_empty());
    }
}
