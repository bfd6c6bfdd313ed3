//! The scan's partials phase, one chunk per batch: the chunk's upper bound in the source's
//! primary-key order, and the chunk's partial aggregates written into the staging table, in
//! the batch's transaction with its cursor. The first chunk also empties the staging table, so
//! a job started over (or a table left from an earlier life) cannot add old partials.

#![allow(clippy::result_large_err)]

use super::*;
use crate::coerce::{Filled, FilledRanged};
use crate::engine::Value;
use crate::shard::first_int;
use crate::value::KeyValue;

/// How long a chunk not counted yet waits for a second connection to count it beside its write
/// (a pool whose connections the workers hold all: counted after the write instead).
const SIDE_CONNECTION_WAIT: Duration = Duration::from_millis(100);

/// A scan's statements with the staging table, the chunk column and the partials' types
/// filled in, ready to run.
pub(crate) struct FilledScan {
    /// The partials phase's fingerprint.
    pub fingerprint: &'static str,
    /// The source table the chunks are cut on, as written.
    pub driving: &'static str,
    /// The staging table, as shown.
    pub stage: String,
    /// Empties the staging table (in the first chunk's transaction).
    pub clear: String,
    /// Deletes the partials of the chunks `cursor < chunk <= hi` (in a later chunk's
    /// transaction); empty where the partials are upserted on the key.
    pub clear_chunk: Filled,
    /// The chunk's upper bound by offset.
    pub chunk_offset: FilledRanged,
    /// The chunk's upper bound and rows, at the end of the source.
    pub chunk_bounds: FilledRanged,
    /// The source rows of a chunk.
    pub chunk_rows: FilledRanged,
    /// The primary key's span, for progress.
    pub chunk_span: String,
    /// The chunk's partials.
    pub partials: FilledRanged,
    /// The first chunk's partials written into a new staging table (PostgreSQL; empty
    /// elsewhere), which `drop` and `replace` then put in the old one's place.
    pub rebuild: Filled,
    /// Drops the staging table.
    pub drop: String,
    /// Renames the table `rebuild` wrote to the staging table's name.
    pub replace: String,
    /// Sizes the chunks: fixed rows, or adaptive toward a time.
    pub sizer: BatchSizer,
    /// The keys an integer key's span holds (`None` for other keys): the most groups a chunk's
    /// aggregate can have, which tells the engine how to aggregate it
    /// ([`Driver::before_partials`]).
    pub keys: Option<u64>,
    /// A chunk not counted yet is counted beside its write, on a connection of a worker the
    /// phase leaves idle (see [`Run::write_chunk`]).
    pub count_beside: bool,
}

impl FilledScan {
    /// The first chunk of a job of one shard is written by `rebuild`, a `CREATE TABLE AS`
    /// PostgreSQL may run on its parallel workers; elsewhere (MySQL/MariaDB, SQLite) a chunk's
    /// statement runs on one core.
    pub(crate) fn parallel_first_chunk(&self) -> bool {
        !self.rebuild.sql.is_empty()
    }

    /// The smallest and largest primary key of the source.
    pub(crate) async fn span<D: Driver>(
        &self,
        conn: &mut Conn<D>,
    ) -> Result<Option<(i64, i64)>, sqlx::Error> {
        let rows =
            D::fetch_all(conn, &self.chunk_span, &[], &[DecodeAs::Int, DecodeAs::Int]).await?;
        Ok(rows.first().and_then(|r| Some((r[0].int()?, r[1].int()?))))
    }
}

impl<D: Driver> Run<'_, D> {
    /// The chunk's last primary key and its rows (`None`: not counted yet); `None` when no
    /// row is above `lo`.
    ///
    /// The bound `limit` rows on, by offset, unless the source's span (as read when the run
    /// started) holds no more than `limit` keys above `lo`: then the offset cannot find a row,
    /// and the rest of the span is the chunk, its rows not counted here: the batch counts them
    /// with its write ([`Run::write_chunk`]). At 20M events in one chunk, the offset's pass
    /// over the primary key took 0.88 s of the run's 21.4 s, for nothing. Past the span's end,
    /// or when the offset finds no row, the bounds of what is left are read at once, `limit`
    /// rows at most.
    pub(super) async fn chunk_bounds(
        &self,
        conn: &mut Conn<D>,
        scan: &FilledScan,
        lo: Option<&Key>,
        limit: u64,
    ) -> Result<Option<(Key, Option<u64>)>, BatchError> {
        let from = match lo {
            None => self.int_span.map(|(min, _)| min - 1),
            Some(lo) => first_int(lo),
        };
        // The span's end when it holds no more than `limit` keys above `lo`.
        let end = match (from, self.int_span) {
            (Some(from), Some((_, max))) if max - from <= i128::from(limit) => Some((from, max)),
            _ => None,
        };
        match end {
            Some((from, max)) if from < max => {
                // The rest of the span: up to its end, or to the source's last key now if
                // lower (both by the primary key's index), its rows counted by a count of the
                // range, which PostgreSQL runs with its parallel workers where it never runs
                // the bounds' ordered `LIMIT` (20M events: 0.68 s against 1.36-1.40 s). An
                // integer key holds no more rows than that width, `limit` at most.
                let Some((_, now)) = scan.span::<D>(conn).await? else {
                    return Ok(None);
                };
                let hi = i128::from(now).min(max);
                if hi <= from {
                    return Ok(None);
                }
                let hi = Key(vec![KeyValue::Int(i64::try_from(hi).unwrap_or(now))]);
                return Ok(Some((hi, None)));
            }
            // Past the span's end, where only rows written since the run started are.
            Some(_) => {}
            None => {
                let offset = scan.chunk_offset.pick(lo);
                let binds = self.binds(offset.stmt, lo, None, limit)?;
                let rows = D::fetch_all(conn, &offset.sql, &binds, &[DecodeAs::Int]).await?;
                if let Some(hi) = rows.first().and_then(|r| r[0].int()) {
                    return Ok(Some((Key(vec![KeyValue::Int(hi)]), Some(limit))));
                }
            }
        }
        let bounds = scan.chunk_bounds.pick(lo);
        let binds = self.binds(bounds.stmt, lo, None, limit)?;
        let rows = D::fetch_all(conn, &bounds.sql, &binds, &[DecodeAs::Int, DecodeAs::Int]).await?;
        Ok(rows.first().and_then(|r| {
            let hi = r[0].int()?;
            let n = u64::try_from(r[1].int().unwrap_or(0)).unwrap_or(0);
            Some((Key(vec![KeyValue::Int(hi)]), Some(n)))
        }))
    }

    /// The chunk `(lo, hi]` of `rows` source rows (`None`: not counted yet), widened to the end
    /// of its shard (or of the source, as read when the run started) when what would be left
    /// after it holds fewer rows than the smallest chunk: each chunk writes a partial for
    /// nearly every key, so a small last chunk costs about as much as a full one (at 20M events
    /// over 2M users, chunks of 8M, 8M and 4M rows wrote 5.7M partials, where 8M and 12M write
    /// 4M). The chunk's own rows per primary key tell when it may be so; the chunk bound that
    /// many rows further then tells whether it is (so a dense tail after a sparse start is not
    /// taken whole). Chunks of a fixed size are kept as they are. A widened chunk's rows are
    /// counted with it.
    pub(super) async fn no_small_tail(
        &self,
        conn: &mut Conn<D>,
        lo: Option<&Key>,
        hi: Key,
        rows: Option<u64>,
        end: Option<&Key>,
    ) -> Result<(Key, Option<u64>), BatchError> {
        let (Some(least), Some(rows), Some((min, max))) = (self.sizer.least(), rows, self.int_span)
        else {
            return Ok((hi, rows));
        };
        let (Some(top), Some(last)) = (end.map_or(Some(max), first_int), first_int(&hi)) else {
            return Ok((hi, Some(rows)));
        };
        let first = lo.map_or(Some(min - 1), first_int);
        let (Some(first), Ok(top)) = (first.filter(|&f| last > f), i64::try_from(top)) else {
            return Ok((hi, Some(rows)));
        };
        let left = (i128::from(top) - last).saturating_mul(i128::from(rows)) / (last - first);
        if last >= i128::from(top) || left >= i128::from(least) {
            return Ok((hi, Some(rows)));
        }
        let Some(scan) = self.partials else {
            return Ok((hi, Some(rows)));
        };
        let further = match self.chunk_bounds(conn, scan, Some(&hi), least).await? {
            Some((at, Some(n))) if n >= least => first_int(&at),
            // The rest of the span, not counted: its width bounds its rows.
            Some((at, None)) if self.chunk_width(Some(&hi), &at) >= Some(least) => {
                let n = self.chunk_rows(conn, scan, Some(&hi), &at).await?;
                (n >= least).then(|| first_int(&at)).flatten()
            }
            _ => None,
        };
        Ok(match further {
            // As many rows left as the smallest chunk, within the shard: the chunk stays.
            Some(at) if at <= i128::from(top) => (hi, Some(rows)),
            _ => (Key(vec![KeyValue::Int(top)]), None),
        })
    }

    /// Writes the partials of the chunk `(lo, hi]` of `rows` source rows and returns the
    /// staging rows written and the source rows. A chunk not counted yet (the rest of the
    /// source's span, or a chunk cut at its shard's end) is counted after the write, in the
    /// batch's transaction; or, when the phase runs fewer workers than the run was given and
    /// the engine writes the chunk on one core (`count_beside`: MySQL/MariaDB's partials phase
    /// of one shard under `workers(n)`), beside the write on a second connection of the pool
    /// (when one comes within [`SIDE_CONNECTION_WAIT`]), in an idle worker's stead: so a run
    /// keeps no more statements running than its workers. The count reads the chunk's range a
    /// second time; on MariaDB, whose chunk statement runs on one core, the count of 2M events
    /// took 0.22-0.47 s after a 0.85-1.23 s write. Beside the write it sees the source as committed when it runs rather
    /// than the transaction's view: the same rows unless the chunk's range changes meanwhile,
    /// and the count is the progress the chunk reports, not what it writes.
    pub(super) async fn write_chunk(
        &self,
        tx: &mut Conn<D>,
        scan: &FilledScan,
        lo: Option<&Key>,
        hi: &Key,
        rows: Option<u64>,
    ) -> Result<(u64, u64), BatchError> {
        if let Some(rows) = rows {
            let written = self.write_partials(tx, scan, lo, hi, Some(rows)).await?;
            return Ok((written, rows));
        }
        let side = if scan.count_beside {
            tokio::time::timeout(SIDE_CONNECTION_WAIT, self.pool.acquire())
                .await
                .ok()
                .and_then(Result::ok)
        } else {
            None
        };
        let Some(mut side) = side else {
            let written = self.write_partials(tx, scan, lo, hi, None).await?;
            let rows = self.chunk_rows(tx, scan, lo, hi).await?;
            return Ok((written, rows));
        };
        let (written, counted) = tokio::join!(
            self.write_partials(tx, scan, lo, hi, None),
            self.chunk_rows(&mut side, scan, lo, hi),
        );
        Ok((written?, counted?))
    }

    /// The width of the chunk `(lo, hi]` on an integer primary key (`lo` none: from the
    /// source's smallest key as read when the run started): the most rows it holds.
    fn chunk_width(&self, lo: Option<&Key>, hi: &Key) -> Option<u64> {
        let from = match lo {
            Some(lo) => first_int(lo)?,
            None => self.int_span?.0 - 1,
        };
        u64::try_from(first_int(hi)? - from).ok()
    }

    /// The source rows of the chunk `(lo, hi]`: a chunk cut at its shard's end, or the rest of
    /// the source's span, has no count from its bounds.
    pub(super) async fn chunk_rows(
        &self,
        conn: &mut Conn<D>,
        scan: &FilledScan,
        lo: Option<&Key>,
        hi: &Key,
    ) -> Result<u64, BatchError> {
        let rows = scan.chunk_rows.pick(lo);
        let binds = self.binds(rows.stmt, lo, Some(hi), 0)?;
        let rows = D::fetch_all(conn, &rows.sql, &binds, &[DecodeAs::Int]).await?;
        Ok(engine::first_count(&rows))
    }

    /// Writes the partials of the chunk `(lo, hi]` of `rows` source rows (`None`: not counted
    /// yet), after emptying the staging table (the first chunk of a job of one shard) or
    /// deleting any partials of the chunk (the next ones, where the partials are inserted
    /// rather than upserted); returns the staging rows written.
    ///
    /// The first chunk (`lo` none) is shard 0's, whose row this transaction has locked. While
    /// the job has that one shard no other chunk can have been written, so it empties the
    /// table; once the job is cut into shards, the cut emptied it ([`Run::cut`]) and other
    /// shards' partials may be in it. On PostgreSQL that first chunk is written into a new
    /// table by `CREATE TABLE AS`, which may run in parallel, and the new table replaces the
    /// staging table: the old one is locked only from its drop to the commit, so a process
    /// reading it (a joining worker counting its rows) is not held for the chunk's length.
    pub(super) async fn write_partials(
        &self,
        conn: &mut Conn<D>,
        scan: &FilledScan,
        lo: Option<&Key>,
        hi: &Key,
        rows: Option<u64>,
    ) -> Result<u64, BatchError> {
        // The first chunk of a job of one shard rebuilds the table where the engine can.
        let mut rebuild = false;
        if lo.is_none() {
            let shards = self
                .store
                .shards(conn)
                .await
                .map_err(|e| BatchError::Stop(Box::new(e)))?;
            if shards.len() <= 1 {
                rebuild = scan.parallel_first_chunk();
                if !rebuild {
                    D::execute(conn, &scan.clear, &[] as &[Value]).await?;
                }
            }
        } else if !scan.clear_chunk.sql.is_empty() {
            let binds = self.binds(scan.clear_chunk.stmt, lo, Some(hi), 0)?;
            D::execute(conn, &scan.clear_chunk.sql, &binds).await?;
        }
        // The chunk's groups: at most its keys, and at most its rows (not counted yet: its
        // width on the primary key).
        let rows = rows.or_else(|| self.chunk_width(lo, hi));
        let groups = scan
            .keys
            .map(|keys| rows.map_or(keys, |rows| rows.min(keys)));
        D::before_partials(conn, groups).await?;
        let partials = if rebuild {
            &scan.rebuild
        } else {
            scan.partials.pick(lo)
        };
        let binds = self.binds(partials.stmt, lo, Some(hi), 0)?;
        let written = D::execute(conn, &partials.sql, &binds).await?;
        if rebuild {
            D::execute(conn, &scan.drop, &[] as &[Value]).await?;
            D::execute(conn, &scan.replace, &[] as &[Value]).await?;
        }
        Ok(written)
    }
}
