//! The staging table of a scan: its name (from the job's), the source's primary-key column the
//! chunks are cut on, the derive's statements with both filled in, and the table itself:
//! created empty by the run, refused if it exists with another shape, dropped once the merge is
//! done.

#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use backfill_core::scan::{fill, STAGED_CHUNK};
use backfill_core::Scan;

use crate::batch::FilledScan;
use crate::coerce::{Filled, FilledRanged};
use crate::definition::{Definition, Hole, Ranged, Statements, Stmt};
use crate::engine::{self, Conn, DecodeAs, Driver, TableName, TableShape};
use crate::error::Error;
use crate::options::RunOptions;
use crate::sizing::BatchSizer;

/// The staging table of `job` for the target `table`: `backfill_stage_<job>` in the target's
/// schema, the job's name kept only in lowercase letters, digits and `_` (with a hash of the
/// whole name when anything was changed or cut), so it needs no escaping and fits every
/// engine's 63-64 character limit.
pub(crate) fn stage_name(table: &str, job: &str) -> Result<TableName, Error> {
    let target = TableName::parse(table)?;
    let plain: String = job
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut name = format!("backfill_stage_{}", &plain[..plain.len().min(32)]);
    if plain != job || plain.len() > 32 {
        let mut hash: u32 = 0x811c_9dc5;
        for byte in job.bytes() {
            hash ^= u32::from(byte);
            hash = hash.wrapping_mul(0x0100_0193);
        }
        name.push_str(&format!("_{hash:08x}"));
    }
    Ok(TableName {
        schema: target.schema,
        name,
    })
}

/// `table` as it is shown and quoted: `schema.name` or `name`.
pub(crate) fn shown(table: &TableName) -> String {
    match &table.schema {
        Some(schema) => format!("{schema}.{}", table.name),
        None => table.name.clone(),
    }
}

/// The column the chunks are cut on: the source's single-column integer primary key (SQLite:
/// else its rowid, the order its rows are stored in).
pub(crate) async fn chunk_column<D: Driver>(
    conn: &mut Conn<D>,
    def: &Definition,
    driving: &str,
) -> Result<String, Error> {
    let table = TableName::parse(driving)?;
    let shape = D::table_shape(conn, &table)
        .await
        .map_err(|e| Error::database(format!("reading the source table {driving}"), e.source))?;
    let refuse = |why: String| {
        Error::Options(format!(
            "strategy scan for {}: {why}; the scan cuts its chunks on the first table of `from`'s primary key. Run it with strategy ranges (`plan` shows the covering index that makes each range read in order)",
            def.name
        ))
    };
    let Some(shape) = shape else {
        return Err(refuse(format!("{driving} is not a table (a view?)")));
    };
    let integer = |name: &str| {
        shape
            .columns
            .iter()
            .any(|c| c.name == name && D::integer_type(&c.base_type.to_ascii_lowercase()))
    };
    let primary = shape.unique_keys.iter().find(|k| k.primary);
    if let Some(key) = primary {
        if let [Some(column)] = key.columns.as_slice() {
            if integer(column) {
                return Ok(column.clone());
            }
        }
    }
    if let Some(row_id) = D::row_id() {
        return Ok(row_id.to_string());
    }
    Err(refuse(match primary {
        Some(key) => format!(
            "the primary key of {driving} ({}) is not one integer column",
            key.columns
                .iter()
                .map(|c| c.as_deref().unwrap_or("an expression"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => format!("{driving} has no primary key"),
    }))
}

/// What the markers of one job's statements are filled with.
pub(crate) struct Markers {
    /// The staging table's own name (plain).
    pub stage: String,
    /// The chunk column, escaped for the quoted identifier it stands in.
    pub chunk: String,
    /// The staging table's column types, by column name.
    pub types: HashMap<String, String>,
}

impl Markers {
    /// The markers for `stage` and the chunk column `chunk` on `D`'s engine.
    pub(crate) fn new<D: Driver>(stage: &TableName, chunk: &str) -> Markers {
        let quoted = D::quote_ident(chunk);
        Markers {
            stage: stage.name.clone(),
            chunk: quoted[1..quoted.len() - 1].to_string(),
            types: HashMap::new(),
        }
    }

    /// `sql` filled in; a marker left unknown is a broken definition.
    pub(crate) fn fill(&self, def: &Definition, sql: &str) -> Result<String, Error> {
        fill(sql, &self.stage, &self.chunk, &|c| {
            self.types.get(c).cloned()
        })
        .map_err(|marker| Error::Definition {
            name: def.name.to_string(),
            problem: format!(
                "the scan statements name `{marker}`, which the staging table does not have"
            ),
        })
    }

    fn filled(&self, def: &Definition, stmt: &'static Stmt) -> Result<Filled, Error> {
        Ok(Filled {
            sql: self.fill(def, stmt.sql)?,
            stmt,
        })
    }

    fn filled_ranged(&self, def: &Definition, r: &'static Ranged) -> Result<FilledRanged, Error> {
        Ok(FilledRanged {
            first: self.filled(def, &r.first)?,
            next: self.filled(def, &r.next)?,
        })
    }

    /// The partials phase's statements, filled.
    pub(crate) fn scan(
        &self,
        def: &Definition,
        scan: &'static Scan,
        stage: &TableName,
        options: &RunOptions,
        keys: Option<u64>,
    ) -> Result<FilledScan, Error> {
        Ok(FilledScan {
            fingerprint: scan.fingerprint,
            driving: scan.driving,
            stage: shown(stage),
            clear: self.fill(def, scan.clear.sql)?,
            clear_chunk: self.filled(def, &scan.clear_chunk)?,
            chunk_offset: self.filled_ranged(def, &scan.chunk_offset)?,
            chunk_bounds: self.filled_ranged(def, &scan.chunk_bounds)?,
            chunk_rows: self.filled_ranged(def, &scan.chunk_rows)?,
            chunk_span: self.fill(def, scan.chunk_span.sql)?,
            partials: self.filled_ranged(def, &scan.partials)?,
            rebuild: self.filled(def, &scan.rebuild)?,
            drop: self.fill(def, scan.drop.sql)?,
            replace: self.fill(def, scan.replace.sql)?,
            sizer: BatchSizer::chunks(options, keys),
            keys,
            count_beside: false,
        })
    }

    /// The merge phase's statements, filled: the batch loop runs them as any backfill's. Made
    /// once per definition, staging table and types in a process, and kept for its life (the
    /// loop's statements are `'static`).
    pub(crate) fn merge(
        &self,
        def: &Definition,
        merge: &'static Statements,
    ) -> Result<&'static Statements, Error> {
        static MADE: OnceLock<Mutex<HashMap<String, &'static Statements>>> = OnceLock::new();
        let mut types: Vec<_> = self.types.iter().collect();
        types.sort();
        let key = format!(
            "{:p}\0{}\0{}\0{types:?}",
            merge as *const Statements, self.stage, self.chunk
        );
        let made = MADE.get_or_init(Default::default);
        if let Some(stmts) = made.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Ok(stmts);
        }
        let filled = self.statements(def, merge)?;
        let leaked: &'static Statements = Box::leak(Box::new(filled));
        made.lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, leaked);
        Ok(leaked)
    }

    fn statements(&self, def: &Definition, m: &'static Statements) -> Result<Statements, Error> {
        let stmt = |s: &'static Stmt| self.leaked_stmt(def, s);
        let ranged = |r: &'static Ranged| -> Result<Ranged, Error> {
            Ok(Ranged {
                first: stmt(&r.first)?,
                next: stmt(&r.next)?,
            })
        };
        Ok(Statements {
            engine: m.engine,
            fingerprint: m.fingerprint,
            bounds: ranged(&m.bounds)?,
            bounds_offset: ranged(&m.bounds_offset)?,
            upsert: ranged(&m.upsert)?,
            insert: ranged(&m.insert)?,
            verify_diff: ranged(&m.verify_diff)?,
            verify_extra: ranged(&m.verify_extra)?,
            verify_extra_tail: stmt(&m.verify_extra_tail)?,
            target_count: ranged(&m.target_count)?,
            target_rows: stmt(&m.target_rows)?,
            null_keys: stmt(&m.null_keys)?,
            key_span: stmt(&m.key_span)?,
            upsert_all: stmt(&m.upsert_all)?,
            delete_extra: ranged(&m.delete_extra)?,
            delete_extra_tail: ranged(&m.delete_extra_tail)?,
            key_probe: stmt(&m.key_probe)?,
            duplicate_keys: ranged(&m.duplicate_keys)?,
            scan: &[],
            scan_refused: m.scan_refused,
        })
    }

    /// `s` filled, its holes moved to where their spans are in the filled text.
    fn leaked_stmt(&self, def: &Definition, s: &'static Stmt) -> Result<Stmt, Error> {
        let mut holes = Vec::with_capacity(s.holes.len());
        for h in s.holes {
            let at = self.fill(def, &s.sql[..h.at])?.len();
            let len = self.fill(def, &s.sql[h.at..h.at + h.len])?.len();
            holes.push(Hole {
                at,
                len,
                column: h.column,
                expr: leak(self.fill(def, h.expr)?),
            });
        }
        Ok(Stmt {
            sql: leak(self.fill(def, s.sql)?),
            params: s.params,
            holes: Box::leak(holes.into_boxed_slice()),
        })
    }
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// Creates the staging table (empty; keyed where the engine keys it from the start) unless it
/// exists with this scan's shape; refuses one of another shape. Returns its shape, and whether
/// this call created it.
pub(crate) async fn create<D: Driver>(
    conn: &mut Conn<D>,
    def: &Definition,
    scan: &'static Scan,
    stage: &TableName,
    markers: &Markers,
) -> Result<(TableShape, bool), Error> {
    let name = shown(stage);
    let db = |doing: &str| {
        let context = format!("{doing} the staging table {name} of {}", def.name);
        move |e| Error::database(context, e)
    };
    let mut created = false;
    if stage_shape::<D>(conn, def, stage).await?.is_none() {
        created = true;
        let create = markers.fill(def, scan.create.sql)?;
        // Another process creating it at the same time is not an error.
        if let Err(e) = D::execute(conn, &create, &[]).await {
            let exists = stage_shape::<D>(conn, def, stage).await?.is_some();
            if !exists {
                return Err(db("creating")(e));
            }
        }
    }
    let shape = stage_shape::<D>(conn, def, stage).await?.ok_or_else(|| {
        Error::Options(format!(
            "the staging table {name} vanished as it was created; run again"
        ))
    })?;
    let columns: Vec<&str> = shape.columns.iter().map(|c| c.name.as_str()).collect();
    let expected: Vec<&str> = scan.columns.to_vec();
    // Keyed on the key columns and the chunk, or (where the key is built after the partials)
    // on nothing yet.
    let fits = match keyed(&shape, scan) {
        Keyed::Yes => true,
        Keyed::No => !scan.index.sql.is_empty(),
        Keyed::Otherwise => false,
    };
    if columns != expected || !fits {
        return Err(Error::Options(format!(
            "the staging table {name} of {} exists with another shape (columns {}, expected {}, keyed on the key and chunk or not at all): it is not this scan's. Drop it if nothing else uses it (`DROP TABLE {name}`), or run with restart, which drops it",
            def.name,
            columns.join(", "),
            expected.join(", ")
        )));
    }
    Ok((shape, created))
}

/// The staging table's shape, `None` when it does not exist.
async fn stage_shape<D: Driver>(
    conn: &mut Conn<D>,
    def: &Definition,
    stage: &TableName,
) -> Result<Option<TableShape>, Error> {
    D::table_shape(conn, stage).await.map_err(|e| {
        Error::database(
            format!("reading the staging table {} of {}", shown(stage), def.name),
            e.source,
        )
    })
}

/// Whether a staging table has its key.
enum Keyed {
    /// Unique on the key columns and the chunk, in that order.
    Yes,
    /// No unique key at all.
    No,
    /// Unique on something else.
    Otherwise,
}

/// The staging table's key columns: the key columns and the chunk, which come first.
fn key_columns(scan: &Scan) -> &[&'static str] {
    let len = scan
        .columns
        .iter()
        .position(|c| *c == STAGED_CHUNK)
        .map_or(0, |i| i + 1);
    &scan.columns[..len]
}

fn keyed(shape: &TableShape, scan: &Scan) -> Keyed {
    let key = key_columns(scan);
    let is_key = |k: &crate::engine::UniqueKey| {
        k.columns
            .iter()
            .map(|c| c.as_deref())
            .eq(key.iter().map(|c| Some(*c)))
    };
    if shape.unique_keys.iter().any(is_key) {
        Keyed::Yes
    } else if shape.unique_keys.is_empty() {
        Keyed::No
    } else {
        Keyed::Otherwise
    }
}

/// Whether the staging table has its key now; an error when it is gone.
async fn has_key<D: Driver>(
    conn: &mut Conn<D>,
    def: &Definition,
    scan: &Scan,
    stage: &TableName,
) -> Result<bool, Error> {
    let shape = stage_shape::<D>(conn, def, stage).await?.ok_or_else(|| {
        Error::Options(format!(
            "the staging table {} of {} vanished before the merge; run again, which redoes its partials",
            shown(stage),
            def.name
        ))
    })?;
    Ok(matches!(keyed(&shape, scan), Keyed::Yes))
}

/// Gives the staging table its key `(key, chunk)` once every chunk's partials are written,
/// unless it has it (the engine keyed it at creation, or an earlier run of the merge did).
/// Two partials of one key and chunk fail here, before anything is merged.
pub(crate) async fn key<D: Driver>(
    conn: &mut Conn<D>,
    def: &Definition,
    scan: &'static Scan,
    stage: &TableName,
    markers: &Markers,
) -> Result<(), Error> {
    if scan.index.sql.is_empty() || has_key::<D>(conn, def, scan, stage).await? {
        return Ok(());
    }
    let sql = markers.fill(def, scan.index.sql)?;
    // Another process keying it at the same time is not an error.
    if let Err(e) = D::execute(conn, &sql, &[]).await {
        if !has_key::<D>(conn, def, scan, stage).await? {
            return Err(Error::database(
                format!(
                    "keying the staging table {} of {} on ({}) before the merge: two partials of one key and chunk mean rows were written to it outside this job; run with restart, which redoes the partials",
                    shown(stage),
                    def.name,
                    key_columns(scan).join(", ")
                ),
                e,
            ));
        }
    }
    Ok(())
}

/// Refreshes the staging table's statistics once its partials are written and keyed, before
/// the merge reads it by key ranges: a table created empty in this run has none, and a planner
/// that takes it for empty may read all of it for every range
/// ([`Driver::refresh_staging_statistics`]).
pub(crate) async fn analyze<D: Driver>(conn: &mut Conn<D>, stage: &TableName) -> Result<(), Error> {
    let sql = D::refresh_staging_statistics(stage);
    D::fetch_all(conn, &sql, &[], &[])
        .await
        .map_err(|e| Error::database(format!("analyzing {}", shown(stage)), e))?;
    Ok(())
}

/// The staging table's rows.
pub(crate) async fn rows<D: Driver>(conn: &mut Conn<D>, stage: &TableName) -> Result<u64, Error> {
    let sql = format!("SELECT count(*) FROM {}", D::quote_table(stage));
    let rows = D::fetch_all(conn, &sql, &[], &[DecodeAs::Int])
        .await
        .map_err(|e| Error::database(format!("counting the rows of {}", shown(stage)), e))?;
    Ok(engine::first_count(&rows))
}

/// Drops the staging table if it exists.
pub(crate) async fn drop<D: Driver>(
    conn: &mut Conn<D>,
    def: &Definition,
    scan: &'static Scan,
    stage: &TableName,
    markers: &Markers,
) -> Result<(), Error> {
    let sql = markers.fill(def, scan.drop.sql)?;
    D::execute(conn, &sql, &[]).await.map_err(|e| {
        Error::database(
            format!(
                "dropping the staging table {} of {}",
                shown(stage),
                def.name
            ),
            e,
        )
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_names_are_plain_and_short_and_differ_per_job() {
        let a = stage_name("analytics.user_stats", "user_stats").unwrap();
        assert_eq!(a.schema.as_deref(), Some("analytics"));
        assert_eq!(a.name, "backfill_stage_user_stats");
        let b = stage_name("t", "User Stats: EU/2026").unwrap();
        assert!(
            b.name.starts_with("backfill_stage_user_stats__eu_2026_"),
            "{}",
            b.name
        );
        let long = "x".repeat(200);
        let c = stage_name("t", &long).unwrap();
        assert!(c.name.len() <= 63, "{}", c.name);
        assert_ne!(c.name, stage_name("t", &"x".repeat(201)).unwrap().name);
        assert!(c
            .name
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_'));
    }
}
