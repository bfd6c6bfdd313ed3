//! Verify: recompute every range read-only and compare with the target.
//!
//! Walks the same key ranges as a run (with a fixed size), asking the engine for the recomputed
//! rows of each range that are missing from the target or differ from it (`verify_diff`) and the
//! target keys in the range that no source row produces (`verify_extra`), then the target keys
//! above the last source key (`verify_extra_tail`). Nothing is written, not even the progress
//! table.

// `Error` is the crate's one public error type, large because its variants name tables,
// columns and ranges; it is returned rarely, so it is not boxed.
#![allow(clippy::result_large_err)]
// Parts serve only some engines; a build with fewer engine features leaves them unused.
#![cfg_attr(
    not(all(feature = "postgres", feature = "mysql", feature = "sqlite")),
    allow(dead_code)
)]

use std::fmt;

use crate::batch::ranged;
use crate::definition::{Definition, KeyKind};
use crate::engine::{self, Conn, DecodeAs, Driver, Value};
use crate::error::Error;
use crate::value::{Key, KeyValue};

/// How many keys each verify range holds.
const VERIFY_RANGE: u64 = 1_000;

/// How many sample keys each list keeps.
const SAMPLES: usize = 10;

/// What [`verify`](crate::pool::BackfillPool::verify) found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VerifyReport {
    /// Rows in the target table.
    pub target_rows: u64,
    /// Distinct non-NULL keys in the source.
    pub source_keys: u64,
    /// Keys the source produces that the target lacks.
    pub missing: u64,
    /// Keys in the target that no source row produces.
    pub extra: u64,
    /// Keys whose stored values differ from the recomputed ones.
    pub different: u64,
    /// Up to 10 missing keys.
    pub missing_samples: Vec<Key>,
    /// Up to 10 extra keys.
    pub extra_samples: Vec<Key>,
    /// Up to 10 differing keys.
    pub different_samples: Vec<Key>,
}

impl VerifyReport {
    /// Whether the target is exactly what the source recomputes: nothing missing, extra or
    /// different.
    pub fn is_clean(&self) -> bool {
        self.missing == 0 && self.extra == 0 && self.different == 0
    }

    fn sample(list: &mut Vec<Key>, key: Key) {
        if list.len() < SAMPLES {
            list.push(key);
        }
    }
}

fn write_samples(
    f: &mut fmt::Formatter<'_>,
    what: &str,
    count: u64,
    samples: &[Key],
) -> fmt::Result {
    if count == 0 {
        return Ok(());
    }
    let keys: Vec<String> = samples.iter().map(Key::to_string).collect();
    let more = if count > samples.len() as u64 {
        ", ..."
    } else {
        ""
    };
    write!(f, "\n  {what}: {}{more}", keys.join(", "))
}

/// `303 target rows, 300 source keys: 12 missing, 15 extra, 30 different`, then sample keys of
/// each kind on their own lines; `..., clean` when nothing differs.
impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} target rows, {} source keys: ",
            self.target_rows, self.source_keys
        )?;
        if self.is_clean() {
            return f.write_str("clean");
        }
        write!(
            f,
            "{} missing, {} extra, {} different",
            self.missing, self.extra, self.different
        )?;
        write_samples(f, "missing", self.missing, &self.missing_samples)?;
        write_samples(f, "extra", self.extra, &self.extra_samples)?;
        write_samples(f, "different", self.different, &self.different_samples)
    }
}

/// A key below every key of these kinds but the very smallest (`i64::MIN`, `""`), so the
/// tail statement (`key > cursor`) lists the target's keys when the source has none.
fn floor_key(kinds: &[KeyKind]) -> Key {
    Key(kinds
        .iter()
        .map(|k| match k {
            KeyKind::Int => KeyValue::Int(i64::MIN),
            KeyKind::UInt => KeyValue::UInt(0),
            KeyKind::Text => KeyValue::Text(String::new()),
            KeyKind::Bytes => KeyValue::Bytes(Vec::new()),
        })
        .collect())
}

/// [`BackfillPool::verify`](crate::pool::BackfillPool::verify) on any engine.
pub(crate) async fn verify<D: Driver>(
    pool: &sqlx::Pool<D::Db>,
    def: &'static Definition,
) -> Result<VerifyReport, Error> {
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| Error::database(context(def, D::ENGINE, "connecting"), e))?;
    let conn: &mut Conn<D> = &mut conn;
    let stmts = engine::statements(def, D::ENGINE)?;
    let (verify_diff, _) =
        crate::access::pin::filled_and_pinned::<D>(conn, def, &stmts.verify_diff).await?;
    let mut pass = VerifyPass::<D>::new(def, stmts, verify_diff);
    pass.count_target_rows(conn).await?;
    let mut cursor: Option<Key> = None;
    while let Some(hi) = pass.next_range(conn, cursor.as_ref()).await? {
        pass.compare_range(conn, cursor.as_ref(), &hi).await?;
        pass.extra_in_range(conn, cursor.as_ref(), &hi).await?;
        cursor = Some(hi);
    }
    pass.extra_after(conn, cursor).await?;
    Ok(pass.report)
}

/// `verifying <table> on <engine>: <doing>`, the context of a database error.
fn context(def: &Definition, engine: crate::definition::Engine, doing: &str) -> String {
    format!("verifying {} on {engine}: {doing}", def.table)
}

/// One read-only pass over the key space, range by range, filling a [`VerifyReport`].
struct VerifyPass<D: Driver> {
    def: &'static Definition,
    stmts: &'static crate::definition::Statements,
    verify_diff: crate::coerce::FilledRanged,
    kinds: Vec<KeyKind>,
    /// How the key columns of a row are read.
    key_cols: Vec<DecodeAs>,
    report: VerifyReport,
    engine: std::marker::PhantomData<D>,
}

impl<D: Driver> VerifyPass<D> {
    fn new(
        def: &'static Definition,
        stmts: &'static crate::definition::Statements,
        verify_diff: crate::coerce::FilledRanged,
    ) -> Self {
        let kinds = engine::key_kinds(def);
        let key_cols = kinds.iter().map(|k| DecodeAs::from(*k)).collect();
        VerifyPass {
            def,
            stmts,
            verify_diff,
            kinds,
            key_cols,
            report: VerifyReport::default(),
            engine: std::marker::PhantomData,
        }
    }

    fn db(&self, doing: &'static str) -> impl FnOnce(sqlx::Error) -> Error + 'static {
        let context = context(self.def, D::ENGINE, doing);
        move |e| Error::database(context, e)
    }

    fn definition_broken(&self, problem: String) -> Error {
        Error::Definition {
            name: self.def.name.to_string(),
            problem,
        }
    }

    /// The key columns followed by one more column read as `extra`.
    fn key_cols_and(&self, extra: DecodeAs) -> Vec<DecodeAs> {
        let mut cols = self.key_cols.clone();
        cols.push(extra);
        cols
    }

    async fn count_target_rows(&mut self, conn: &mut Conn<D>) -> Result<(), Error> {
        let rows = D::fetch_all(conn, self.stmts.target_rows.sql, &[], &[DecodeAs::Int])
            .await
            .map_err(self.db("counting target rows"))?;
        self.report.target_rows = engine::first_count(&rows);
        Ok(())
    }

    /// The upper bound of the range after `cursor`, counting its source keys; `None` past the
    /// last source key.
    async fn next_range(
        &mut self,
        conn: &mut Conn<D>,
        cursor: Option<&Key>,
    ) -> Result<Option<Key>, Error> {
        let stmt = ranged(&self.stmts.bounds, cursor);
        let binds = engine::bind_params(stmt.params, cursor, None, VERIFY_RANGE)
            .map_err(|p| self.definition_broken(p))?;
        let rows = D::fetch_all(conn, stmt.sql, &binds, &self.key_cols_and(DecodeAs::Int))
            .await
            .map_err(self.db("finding the next range"))?;
        let Some(row) = engine::bounds_row(&rows, &self.kinds) else {
            return Ok(None);
        };
        let hi = engine::row_key(row, &self.kinds).ok_or_else(|| {
            self.definition_broken("the bounds statement returned a NULL key".to_string())
        })?;
        if cursor == Some(&hi) {
            return Err(Error::NoProgress {
                table: self.def.table.to_string(),
                job: format!("verify of {}", self.def.name),
                cursor: hi.to_string(),
                hi: hi.to_string(),
            });
        }
        self.report.source_keys += row[self.kinds.len()]
            .int()
            .map_or(0, |n| u64::try_from(n).unwrap_or(0));
        Ok(Some(hi))
    }

    /// The recomputed rows of `cursor < key <= hi` missing from the target or different.
    async fn compare_range(
        &mut self,
        conn: &mut Conn<D>,
        cursor: Option<&Key>,
        hi: &Key,
    ) -> Result<(), Error> {
        let diff = self.verify_diff.pick(cursor);
        let binds = engine::bind_params(diff.stmt.params, cursor, Some(hi), VERIFY_RANGE)
            .map_err(|p| self.definition_broken(p))?;
        let rows = D::fetch_all(conn, &diff.sql, &binds, &self.key_cols_and(DecodeAs::Text))
            .await
            .map_err(self.db("comparing a range"))?;
        for row in rows {
            let Some(key) = engine::row_key(&row, &self.kinds) else {
                continue;
            };
            if row[self.kinds.len()].text() == Some("missing") {
                self.report.missing += 1;
                VerifyReport::sample(&mut self.report.missing_samples, key);
            } else {
                self.report.different += 1;
                VerifyReport::sample(&mut self.report.different_samples, key);
            }
        }
        Ok(())
    }

    /// Target keys of `cursor < key <= hi` that no source row produces.
    async fn extra_in_range(
        &mut self,
        conn: &mut Conn<D>,
        cursor: Option<&Key>,
        hi: &Key,
    ) -> Result<(), Error> {
        let stmt = ranged(&self.stmts.verify_extra, cursor);
        let binds = engine::bind_params(stmt.params, cursor, Some(hi), VERIFY_RANGE)
            .map_err(|p| self.definition_broken(p))?;
        let extra = D::fetch_all(conn, stmt.sql, &binds, &self.key_cols)
            .await
            .map_err(self.db("looking for extra target keys in a range"))?;
        count_extra(&mut self.report, extra, &self.kinds);
        Ok(())
    }

    /// Target keys above the last source key. With no source key at all, every target row is
    /// extra: the count is exact, the samples come from a below-everything cursor.
    async fn extra_after(&mut self, conn: &mut Conn<D>, last: Option<Key>) -> Result<(), Error> {
        let no_source_keys = last.is_none();
        let tail_cursor = last.unwrap_or_else(|| floor_key(&self.kinds));
        let stmt = &self.stmts.verify_extra_tail;
        let binds = engine::bind_params(stmt.params, Some(&tail_cursor), None, VERIFY_RANGE)
            .map_err(|p| self.definition_broken(p))?;
        let extra = D::fetch_all(conn, stmt.sql, &binds, &self.key_cols)
            .await
            .map_err(self.db("looking for extra target keys after the last source key"))?;
        count_extra(&mut self.report, extra, &self.kinds);
        if no_source_keys {
            self.report.extra = self.report.target_rows;
        }
        Ok(())
    }
}

fn count_extra(report: &mut VerifyReport, rows: Vec<Vec<Value>>, kinds: &[KeyKind]) {
    for row in rows {
        report.extra += 1;
        if let Some(key) = engine::row_key(&row, kinds) {
            VerifyReport::sample(&mut report.extra_samples, key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: i64) -> Key {
        Key(vec![KeyValue::Int(i)])
    }

    #[test]
    fn a_clean_report_says_so() {
        let report = VerifyReport {
            target_rows: 300,
            source_keys: 300,
            ..VerifyReport::default()
        };
        assert!(report.is_clean());
        assert_eq!(
            report.to_string(),
            "300 target rows, 300 source keys: clean"
        );
    }

    #[test]
    fn differences_read_with_counts_and_samples() {
        let report = VerifyReport {
            target_rows: 303,
            source_keys: 300,
            missing: 12,
            extra: 1,
            different: 2,
            missing_samples: vec![key(4), key(9)],
            extra_samples: vec![key(400)],
            different_samples: vec![key(1), key(2)],
        };
        assert!(!report.is_clean());
        assert_eq!(
            report.to_string(),
            "303 target rows, 300 source keys: 12 missing, 1 extra, 2 different\n  missing: 4, 9, ...\n  extra: 400\n  different: 1, 2"
        );
    }

    #[test]
    fn samples_stop_at_ten() {
        let mut list = Vec::new();
        for i in 0..25 {
            VerifyReport::sample(&mut list, key(i));
        }
        assert_eq!(list.len(), 10);
    }
}
