//! The reads that find a batch's range and size the job: the upper bound of the next batch
//! (by distinct keys, or by offset in place), the target's rows in a range and in all, the
//! source's NULL keys, and the key span for progress estimates.

use super::{Binder, Range, StatementWriter};
use backfill_core::Param;

use crate::model::KeyKind;

impl<'m> StatementWriter<'m> {
    /// In place, each key is one row of the target: the batch's last key is the row `Offset`
    /// rows past the cursor in the key's index order, one index walk with no DISTINCT, sort or
    /// window count (measured on SQLite at 2M rows: 12 ms for 400,000 keys, against 337 ms for
    /// [`StatementWriter::bounds`]). No row: fewer keys remain, and `bounds` takes the tail.
    pub(super) fn bounds_offset(&self, (range, b): (Range, &mut Binder)) -> String {
        let (keys, from, key_where) = self.key_source(range, b);
        let offset = b.bind(Param::Offset);
        let out: Vec<String> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| self.cast(k, self.kind(i)))
            .collect();
        format!(
            "SELECT {}{from}{key_where} ORDER BY {} LIMIT 1 OFFSET {offset}",
            out.join(", "),
            keys.join(", ")
        )
    }

    /// `SELECT DISTINCT` the next `Limit` keys, then the largest of them and how many: by
    /// `max` and `count` for one integer key, which stream over the keys, else the last row
    /// in descending order with a window count, which holds them all and sorts them (on
    /// PostgreSQL at 2M events, 25,000 keys of 250,000 rows: 21 ms against 30 ms). No key
    /// left: one row with a NULL key and a count of 0, or no row.
    pub(super) fn bounds(&self, (range, b): (Range, &mut Binder)) -> String {
        let (keys, from, key_where) = self.key_source(range, b);
        let aliases: Vec<String> = (0..keys.len()).map(|i| self.key_alias(i)).collect();
        let inner_select: Vec<String> = keys
            .iter()
            .zip(&aliases)
            .map(|(k, a)| format!("{k} AS {a}"))
            .collect();
        let limit = b.bind(Param::Limit);
        let inner = format!(
            "SELECT DISTINCT {}{from}{key_where} ORDER BY {} LIMIT {limit}",
            inner_select.join(", "),
            aliases.join(", ")
        );
        let b_alias = self.quoted("__b");
        if let ([alias], KeyKind::Int | KeyKind::UInt) = (aliases.as_slice(), self.kind(0)) {
            return format!(
                "SELECT {}, count(*) FROM ({inner}) AS {b_alias}",
                self.cast(&format!("max({b_alias}.{alias})"), self.kind(0))
            );
        }
        let outer: Vec<String> = aliases
            .iter()
            .enumerate()
            .map(|(i, a)| self.cast(&format!("{b_alias}.{a}"), self.kind(i)))
            .collect();
        let order: Vec<String> = aliases
            .iter()
            .map(|a| format!("{b_alias}.{a} DESC"))
            .collect();
        format!(
            "SELECT {}, count(*) OVER () FROM ({inner}) AS {b_alias} ORDER BY {} LIMIT 1",
            outer.join(", "),
            order.join(", ")
        )
    }

    pub(super) fn target_count(&self, (range, b): (Range, &mut Binder)) -> String {
        let t = self.quoted("__t");
        let conds = self.range(&self.target_keys(), range, b);
        format!(
            "SELECT count(*) FROM {} AS {t} WHERE {}",
            self.table(),
            conds.join(" AND ")
        )
    }

    pub(super) fn target_rows(&self) -> String {
        format!("SELECT count(*) FROM {}", self.table())
    }

    pub(super) fn null_keys(&self) -> String {
        let any_null: Vec<String> = self
            .key_sources()
            .iter()
            .map(|k| format!("{k} IS NULL"))
            .collect();
        let any_null = any_null.join(" OR ");
        match &self.model.filter {
            Some(filter) => format!(
                "SELECT count(*){} WHERE ({filter}) AND ({any_null})",
                self.from()
            ),
            None => format!("SELECT count(*){} WHERE {any_null}", self.from()),
        }
    }

    pub(super) fn key_span(&self) -> String {
        let first = self.source(self.keys[0]);
        let kind = self.kind(0);
        let filter = self
            .model
            .filter
            .as_ref()
            .map(|f| format!(" WHERE ({f})"))
            .unwrap_or_default();
        // One scalar subquery per end: each reads one end of an index on the key. A single
        // `SELECT min(k), max(k)` scans the whole index on SQLite (measured: 0.15 s at 2M rows,
        // against under a millisecond).
        let end = |agg: &str| {
            if kind == KeyKind::Bytes {
                // PostgreSQL has no min/max of bytea: the first key in the key's order.
                let order = if agg == "min" { "" } else { " DESC" };
                let cond = match &self.model.filter {
                    Some(f) => format!(" WHERE ({f}) AND {first} IS NOT NULL"),
                    None => format!(" WHERE {first} IS NOT NULL"),
                };
                format!(
                    "(SELECT {first}{}{cond} ORDER BY {first}{order} LIMIT 1)",
                    self.from()
                )
            } else {
                format!("(SELECT {agg}({first}){}{filter})", self.from())
            }
        };
        format!(
            "SELECT {}, {}",
            self.cast(&end("min"), kind),
            self.cast(&end("max"), kind),
        )
    }
}
