//! The statements of one batch, bound and run on its connection: the range's bounds, the upsert,
//! the duplicate-key check, the deletion of extra rows, the holes filled with column types, and
//! the statement for a range (`ranged`) and the source's key span (`key_span`).

// `Error` is the crate's one public error type, large because its variants name tables,
// columns and ranges; it is returned rarely, so it is not boxed.
#![allow(clippy::result_large_err)]
#![cfg_attr(
    not(all(feature = "postgres", feature = "mysql", feature = "sqlite")),
    allow(dead_code)
)]

use super::*;

impl<D: Driver> Run<'_, D> {
    /// The range's upper key and its number of keys; `None` when no key is above `lo`.
    pub(super) async fn bounds(
        &self,
        conn: &mut Conn<D>,
        lo: Option<&Key>,
        limit: u64,
    ) -> Result<Option<(Key, u64)>, BatchError> {
        if let Some(scan) = self.partials {
            return match self.chunk_bounds(conn, scan, lo, limit).await? {
                Some((hi, Some(rows))) => Ok(Some((hi, rows))),
                Some((hi, None)) => {
                    let rows = self.chunk_rows(conn, scan, lo, &hi).await?;
                    Ok(Some((hi, rows)))
                }
                None => Ok(None),
            };
        }
        if self.def.in_place {
            // Each key is one row: walk the index to the range's last key when it is there.
            let stmt = ranged(&self.stmts.bounds_offset, lo);
            let cols: Vec<DecodeAs> = self.kinds.iter().map(|k| DecodeAs::from(*k)).collect();
            let rows = self.fetch(conn, stmt, lo, None, limit, &cols).await?;
            if let Some(hi) = rows
                .first()
                .and_then(|row| engine::row_key(row, &self.kinds))
            {
                return Ok(Some((hi, limit)));
            }
        }
        let stmt = ranged(&self.stmts.bounds, lo);
        let mut cols: Vec<DecodeAs> = self.kinds.iter().map(|k| DecodeAs::from(*k)).collect();
        cols.push(DecodeAs::Int);
        let rows = self.fetch(conn, stmt, lo, None, limit, &cols).await?;
        let Some(row) = engine::bounds_row(&rows, &self.kinds) else {
            return Ok(None);
        };
        let hi = engine::row_key(row, &self.kinds).ok_or_else(|| {
            BatchError::Stop(Box::new(
                self.definition_broken("the bounds statement returned a NULL key"),
            ))
        })?;
        let keys = row[self.kinds.len()].int().unwrap_or(0);
        Ok(Some((hi, u64::try_from(keys).unwrap_or(0))))
    }

    /// Upserts the range of `keys` keys (`None` for a range cut at its shard's end, whose keys
    /// are not counted yet); returns the rows inserted or changed, and whether the range held
    /// no target row and was written by the insert (PostgreSQL).
    pub(super) async fn upsert(
        &self,
        conn: &mut Conn<D>,
        lo: Option<&Key>,
        hi: &Key,
        keys: Option<u64>,
        limit: u64,
    ) -> Result<(u64, bool), BatchError> {
        // How many target rows the range holds, where that decides the statement: a range
        // already whole is compared before it is upserted, an empty one is inserted.
        let compare = self.verify_diff.as_ref().zip(keys);
        let insert = self.insert.as_ref().filter(|_| !self.key_arrived);
        let present = if compare.is_some() || insert.is_some() {
            Some(self.target_count(conn, lo, hi, limit).await?)
        } else {
            None
        };
        if let (Some(insert), Some(0)) = (insert, present) {
            let stmt = insert.pick(lo);
            let binds = self.binds(stmt.stmt, lo, Some(hi), limit)?;
            return match D::execute(conn, &stmt.sql, &binds).await {
                Ok(rows) => Ok((rows, true)),
                Err(e) if is_unique_violation(&e) => Err(BatchError::KeyArrived(e)),
                Err(e) => Err(BatchError::Database(e)),
            };
        }
        if let (Some((verify_diff, keys)), Some(present)) = (compare, present) {
            if present >= keys {
                let diff = verify_diff.pick(lo);
                let binds = self.binds(diff.stmt, lo, Some(hi), limit)?;
                let cols = [DecodeAs::from(self.kinds[0])];
                if D::fetch_all(conn, &diff.sql, &binds, &cols)
                    .await?
                    .is_empty()
                {
                    return Ok((0, false));
                }
            }
        }
        let Some(upsert) = &self.upsert else {
            return Err(BatchError::Stop(Box::new(
                self.definition_broken("the upsert was not prepared"),
            )));
        };
        let stmt = upsert.pick(lo);
        let binds = self.binds(stmt.stmt, lo, Some(hi), limit)?;
        // In place, the UPDATE's guard matches only rows whose values change, so the rows it
        // matches (what MySQL's CLIENT_FOUND_ROWS counts) are the rows it writes.
        if !D::DIALECT.counts_unchanged_rows || self.def.in_place {
            return Ok((D::execute(conn, &stmt.sql, &binds).await?, false));
        }
        // Affected rows count inserted 1, changed 2, unchanged 1: one per key plus the changed.
        let before = self.target_count(conn, lo, hi, limit).await?;
        let affected = D::execute(conn, &stmt.sql, &binds).await?;
        let after = self.target_count(conn, lo, hi, limit).await?;
        let inserted = after.saturating_sub(before);
        // A range cut at its shard's end: every source key of it has its target row now.
        let keys = keys.unwrap_or(after);
        Ok(((inserted + affected.saturating_sub(keys)).min(keys), false))
    }

    /// A row-to-row mapping (from another source) writes one target row per source row: a key
    /// that several source rows of the range produce stops the run, naming the key, before
    /// anything of the range is written (never last-writer-wins).
    pub(super) async fn no_duplicate_keys(
        &self,
        conn: &mut Conn<D>,
        lo: Option<&Key>,
        hi: &Key,
        limit: u64,
    ) -> Result<(), BatchError> {
        let own_rows = self.def.in_place && self.def.from.is_empty();
        if self.def.grouped || own_rows {
            return Ok(());
        }
        let stmt = ranged(&self.stmts.duplicate_keys, lo);
        let mut cols: Vec<DecodeAs> = self.kinds.iter().map(|k| DecodeAs::from(*k)).collect();
        cols.push(DecodeAs::Int);
        let rows = self.fetch(conn, stmt, lo, Some(hi), limit, &cols).await?;
        let Some(row) = rows.first() else {
            return Ok(());
        };
        let key =
            engine::row_key(row, &self.kinds).map_or_else(|| "NULL".to_string(), |k| k.to_string());
        let count = row[self.kinds.len()].int().unwrap_or(0);
        Err(BatchError::Stop(Box::new(Error::DuplicateKey {
            table: self.def.table.to_string(),
            key,
            rows: u64::try_from(count).unwrap_or(0),
        })))
    }

    /// With `delete_extra`, deletes the target keys of the range that no source row
    /// produces; returns how many.
    pub(super) async fn delete_extra(
        &self,
        conn: &mut Conn<D>,
        stmts: &'static Ranged,
        lo: Option<&Key>,
        hi: Option<&Key>,
    ) -> Result<u64, BatchError> {
        if !self.options.delete_extra {
            return Ok(0);
        }
        let stmt = ranged(stmts, lo);
        let binds = self.binds(stmt, lo, hi, 0)?;
        Ok(D::execute(conn, stmt.sql, &binds).await?)
    }

    /// Whether the next range would not move the cursor forward: its upper key is the cursor
    /// itself, or (for integer keys, whose order Rust knows) below it. A key type the runtime
    /// cannot order exactly would repeat the same range forever; preflight refuses those, and
    /// this stops any that slips through with an error naming the cursor.
    pub(super) fn no_progress(&self, lo: &Key, hi: &Key) -> bool {
        let integers = self
            .kinds
            .iter()
            .all(|k| matches!(k, KeyKind::Int | KeyKind::UInt));
        hi == lo || (integers && hi < lo)
    }

    /// Reads the target's column types and fills the holes of `ranged`; pins its source read to
    /// the covering index where the engine needs a hint ([`crate::access::pin`]).
    pub(super) async fn fill(&self, ranged: &'static Ranged) -> Result<FilledRanged, Error> {
        let context = || {
            format!(
                "reading the column types of {} on {}",
                self.def.table,
                D::ENGINE
            )
        };
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| Error::database(context(), e))?;
        let mut batch_conn = BatchConnection::<D>::new(&mut conn);
        let (filled, pinned) =
            crate::access::pin::filled_and_pinned::<D>(batch_conn.conn(), self.def, ranged).await?;
        batch_conn.finished();
        if let Some(index) = pinned {
            tracing::info!(name = self.def.name, index = %index, "the ranges read the source through its covering index (index hint)");
        }
        Ok(filled)
    }

    /// Whether a range already in the target is compared before it is upserted. Not with
    /// greatest/least merges: `verify_diff` compares those for presence only.
    pub(super) fn skip_unchanged_ranges(&self) -> bool {
        self.partials.is_none()
            && D::DIALECT.skip_unchanged_ranges
            && !self.def.in_place
            && !self.def.write_once
            && !self
                .def
                .columns
                .iter()
                .any(|c| matches!(c.merge, Merge::Greatest | Merge::Least))
    }

    pub(super) async fn target_count(
        &self,
        conn: &mut Conn<D>,
        lo: Option<&Key>,
        hi: &Key,
        limit: u64,
    ) -> Result<u64, BatchError> {
        let stmt = ranged(&self.stmts.target_count, lo);
        let rows = self
            .fetch(conn, stmt, lo, Some(hi), limit, &[DecodeAs::Int])
            .await?;
        let n = rows.first().and_then(|r| r[0].int()).unwrap_or(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }

    pub(super) async fn fetch(
        &self,
        conn: &mut Conn<D>,
        stmt: &'static Stmt,
        lo: Option<&Key>,
        hi: Option<&Key>,
        limit: u64,
        cols: &[DecodeAs],
    ) -> Result<Vec<engine::Row>, BatchError> {
        let binds = self.binds(stmt, lo, hi, limit)?;
        Ok(D::fetch_all(conn, stmt.sql, &binds, cols).await?)
    }

    pub(super) fn binds(
        &self,
        stmt: &Stmt,
        lo: Option<&Key>,
        hi: Option<&Key>,
        limit: u64,
    ) -> Result<Vec<engine::Value>, BatchError> {
        engine::bind_params(stmt.params, lo, hi, limit)
            .map_err(|p| BatchError::Stop(Box::new(self.definition_broken(&p))))
    }
}

/// The statement for a range starting after `lo` (or at the first key).
pub(crate) fn ranged<'a>(stmts: &'a Ranged, lo: Option<&Key>) -> &'a Stmt {
    match lo {
        Some(_) => &stmts.next,
        None => &stmts.first,
    }
}

/// The smallest and largest source value of the first key column; `None` on an empty source.
pub(crate) async fn key_span<D: Driver>(
    conn: &mut Conn<D>,
    stmts: &Statements,
    kind: KeyKind,
) -> Result<Option<(KeyValue, KeyValue)>, sqlx::Error> {
    let rows = D::fetch_all(
        conn,
        stmts.key_span.sql,
        &[],
        &[DecodeAs::from(kind), DecodeAs::from(kind)],
    )
    .await?;
    Ok(rows
        .first()
        .and_then(|r| Some((r[0].key_value()?, r[1].key_value()?))))
}
