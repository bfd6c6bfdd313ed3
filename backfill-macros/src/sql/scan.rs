//! The scan strategy's statements (issue 13): the staging table, the chunks of the source's
//! primary key, the partial aggregates of a chunk, and the merge phase, a whole backfill whose
//! source is the staging table. See `backfill_core::scan` for the markers the runtime fills.

use backfill_core::scan::{staged_key, staged_partial, CHUNK_MARKER, STAGED_CHUNK, STAGE_MARKER};
use backfill_core::scan_fingerprint;
use backfill_core::{Param, Strategy};

use super::decompose::{decompose, Decomposed, STAGE_ALIAS};
use super::{statements, Binder, Range, Ranged, StatementWriter, Stmt};
use crate::model::{Backfill, Column, Engine};

/// The scan strategy's statements on one engine.
pub type Scan = backfill_core::Scan<backfill_core::Owned>;

/// The scan's statements for `model` on `engine`, or why the mapping cannot be scanned.
pub fn scan(model: &Backfill, engine: Engine) -> Result<Scan, String> {
    if model.strategy == Strategy::Ranges {
        return Err(format!(
            "{} asks for `strategy = \"ranges\"`, so no scan statements were generated",
            model.name
        ));
    }
    let d = decompose(model, engine)?;
    let w = StatementWriter::new(model, engine);
    let s = ScanWriter { w: &w, d: &d };
    let mut out = Scan {
        fingerprint: String::new(),
        driving: d.driving.join("."),
        create: s.stmt(|s, _| s.create()),
        index: s.stmt(|s, _| s.index()),
        clear: s.stmt(|s, _| format!("DELETE FROM {}", s.stage())),
        clear_chunk: s.stmt(|s, (_, b)| s.clear_chunk(b)),
        columns: s.columns(),
        chunk_offset: s.ranged(|s, (r, b)| s.chunk_offset(r, b)),
        chunk_bounds: s.ranged(|s, (r, b)| s.chunk_bounds(r, b)),
        chunk_rows: s.ranged(|s, (r, b)| s.chunk_rows(r, b)),
        chunk_span: s.stmt(|s, _| s.chunk_span()),
        partials: s.ranged(|s, (r, b)| s.partials(r, b)),
        rebuild: s.stmt(|s, (r, b)| s.rebuild(r, b)),
        replace: s.stmt(|s, _| s.replace()),
        drop: s.stmt(|s, _| format!("DROP TABLE IF EXISTS {}", s.stage())),
        merge: statements(&merge_model(model, engine, &d.merged), engine),
        merge_one: Vec::new(),
    };
    if let Some(one) = &d.merged_one {
        let mut merge_one = statements(
            &Backfill {
                grouped: false,
                ..merge_model(model, engine, one)
            },
            engine,
        );
        // The same rows as the grouped merge, so the same job: either may merge it.
        merge_one.fingerprint = out.merge.fingerprint.clone();
        out.merge_one.push(merge_one);
    }
    out.fingerprint = scan_fingerprint(&out);
    Ok(out)
}

/// The merge phase as a backfill of its own: the target, from the staging table, each key read
/// back from its column and each value computed from the merged partials (`merged`, one per
/// column of the model: `None` for a key).
fn merge_model(model: &Backfill, engine: Engine, merged: &[Option<String>]) -> Backfill {
    let q = |name: &str| engine.quote_ident(name);
    let mut key = 0;
    let columns = model
        .columns
        .iter()
        .zip(merged)
        .map(|(c, merged)| {
            let expr = match merged {
                Some(value) => value.clone(),
                None => {
                    key += 1;
                    format!("{}.{}", q(STAGE_ALIAS), q(&staged_key(key - 1)))
                }
            };
            let mut exprs: [Option<String>; 3] = Default::default();
            exprs[engine.index()] = Some(expr);
            Column { exprs, ..c.clone() }
        })
        .collect();
    Backfill {
        from: Some(format!(
            "{} AS {}",
            stage_table(model, engine),
            q(STAGE_ALIAS)
        )),
        filter: None,
        in_place: false,
        grouped: true,
        strategy: Strategy::Ranges,
        columns,
        schema: Vec::new(),
        ..model.clone()
    }
}

/// The staging table, quoted, in the target's schema: its name is a marker the run fills.
fn stage_table(model: &Backfill, engine: Engine) -> String {
    stage_named(model, engine, STAGE_MARKER)
}

/// The table `name` (the staging table's name marker, maybe with a suffix), quoted, in the
/// target's schema.
fn stage_named(model: &Backfill, engine: Engine, name: &str) -> String {
    let stage = engine.quote_ident(name);
    match model.table.rsplit_once('.') {
        Some((schema, _)) => format!("{}.{stage}", engine.quote_table(schema)),
        None => stage,
    }
}

struct ScanWriter<'a, 'm> {
    w: &'a StatementWriter<'m>,
    d: &'a Decomposed,
}

impl ScanWriter<'_, '_> {
    fn stmt(&self, f: impl Fn(&Self, (Range, &mut Binder)) -> String) -> Stmt {
        self.w.stmt(|_, rb| f(self, rb), Range::Whole)
    }

    fn ranged(&self, f: impl Fn(&Self, (Range, &mut Binder)) -> String) -> Ranged {
        Ranged {
            first: self.w.stmt(|_, rb| f(self, rb), Range::UpTo),
            next: self.w.stmt(|_, rb| f(self, rb), Range::Between),
        }
    }

    fn engine(&self) -> Engine {
        self.w.engine
    }

    fn q(&self, name: &str) -> String {
        self.w.quoted(name)
    }

    fn stage(&self) -> String {
        stage_table(self.w.model, self.engine())
    }

    /// The first table of `from`, as the chunk statements read it alone.
    fn driving(&self) -> String {
        let name: Vec<String> = self.d.driving.iter().map(|p| self.q(p)).collect();
        format!("{} AS {}", name.join("."), self.d.driving_ref)
    }

    /// The chunk column: the source's primary key, through the first table's alias.
    fn chunk(&self) -> String {
        format!("{}.{}", self.d.driving_ref, self.q(CHUNK_MARKER))
    }

    fn bigint(&self, expr: &str) -> String {
        match self.engine() {
            Engine::Postgres => format!("CAST({expr} AS BIGINT)"),
            Engine::MySql => format!("CAST({expr} AS SIGNED)"),
            Engine::Sqlite => expr.to_string(),
        }
    }

    /// The staging table's columns: keys, chunk, partials.
    fn columns(&self) -> Vec<String> {
        let keys = (0..self.w.keys.len()).map(staged_key);
        let partials = (0..self.d.partials.len()).map(staged_partial);
        keys.chain([STAGED_CHUNK.to_string()])
            .chain(partials)
            .collect()
    }

    fn staged_key(&self) -> Vec<String> {
        let mut key: Vec<String> = (0..self.w.keys.len())
            .map(|i| self.q(&staged_key(i)))
            .collect();
        key.push(self.q(STAGED_CHUNK));
        key
    }

    /// `k0 AS "k0", ..., <chunk> AS "chunk", p0 AS "p0", ...`.
    fn select(&self, chunk: &str) -> String {
        let keys = self.w.key_sources();
        let mut select: Vec<String> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{k} AS {}", self.q(&staged_key(i))))
            .collect();
        select.push(format!("{chunk} AS {}", self.q(STAGED_CHUNK)));
        select.extend(
            self.d
                .partials
                .iter()
                .enumerate()
                .map(|(i, p)| format!("{p} AS {}", self.q(&staged_partial(i)))),
        );
        select.join(", ")
    }

    /// The staging table, empty, its columns typed and collated as the key expressions and
    /// partial aggregates are (a table made from the query's own result).
    fn create(&self) -> String {
        let chunk = self.bigint("NULL");
        let select = self.select(&chunk);
        let from = self.w.from();
        let group = self.w.group_by();
        match self.engine() {
            // Unlogged: no WAL for partials that live as long as the job. A server crash empties
            // it; the run finds it short of the rows the partials job wrote and redoes them.
            Engine::Postgres => format!(
                "CREATE UNLOGGED TABLE {} AS SELECT {select}{from} WHERE false{group} WITH NO DATA",
                self.stage()
            ),
            // The key in the same statement: MySQL commits each DDL statement on its own.
            Engine::MySql => format!(
                "CREATE TABLE {} ({} BIGINT NOT NULL, PRIMARY KEY ({})) SELECT {select}{from} WHERE 1 = 0{group}",
                self.stage(),
                self.q(STAGED_CHUNK),
                self.staged_key().join(", ")
            ),
            Engine::Sqlite => format!(
                "CREATE TABLE {} AS SELECT {select}{from} WHERE 0{group}",
                self.stage()
            ),
        }
    }

    /// The staging table's key, run once the partials are written, where `create` does not
    /// give it. PostgreSQL and SQLite insert each chunk's partials into a table with no index
    /// and build the key in one sort before the merge: measured on 2M events over 200,000
    /// users (two chunks, 400,000 partials), PostgreSQL inserted a chunk's 200,000 partials in
    /// 55-58 ms without an index against 400-575 ms upserted into the key, and built the key
    /// in 142 ms; SQLite 85 ms and 140 ms against 410 ms. InnoDB keys it from the start: its
    /// table is its clustered index, and a keyless table rebuilt on a key later took 1.02 s
    /// against 0.74 s for the upserts in key order.
    fn index(&self) -> String {
        match self.engine() {
            Engine::Postgres => format!(
                "ALTER TABLE {} ADD PRIMARY KEY ({})",
                self.stage(),
                self.staged_key().join(", ")
            ),
            Engine::MySql => String::new(),
            Engine::Sqlite => format!(
                "CREATE UNIQUE INDEX {} ON {} ({})",
                self.q(&format!("{STAGE_MARKER}_key")),
                self.stage(),
                self.staged_key().join(", ")
            ),
        }
    }

    /// Deletes the partials of the chunks `cursor < chunk <= hi` before a chunk's partials are
    /// inserted, where they are not upserted on the key (see [`Self::index`]).
    fn clear_chunk(&self, b: &mut Binder) -> String {
        if self.engine() == Engine::MySql {
            return String::new();
        }
        let chunk = self.q(STAGED_CHUNK);
        let lo = b.bind(Param::Cursor(0));
        let hi = b.bind(Param::Hi(0));
        format!(
            "DELETE FROM {} WHERE {chunk} > {lo} AND {chunk} <= {hi}",
            self.stage()
        )
    }

    fn above(&self, range: Range, b: &mut Binder) -> String {
        match range {
            Range::Between | Range::Above => {
                format!(" WHERE {} > {}", self.chunk(), b.bind(Param::Cursor(0)))
            }
            Range::Whole | Range::UpTo => String::new(),
        }
    }

    fn chunk_offset(&self, range: Range, b: &mut Binder) -> String {
        let chunk = self.chunk();
        let above = self.above(range, b);
        let offset = b.bind(Param::Offset);
        format!(
            "SELECT {} FROM {}{above} ORDER BY {chunk} LIMIT 1 OFFSET {offset}",
            self.bigint(&chunk),
            self.driving()
        )
    }

    fn chunk_bounds(&self, range: Range, b: &mut Binder) -> String {
        let chunk = self.chunk();
        let above = self.above(range, b);
        let limit = b.bind(Param::Limit);
        let (c, bb) = (self.q("__c"), self.q("__b"));
        // By `max` and `count`, which stream: a window count holds every row of the chunk
        // and sorts them (on PostgreSQL, a last chunk of 2M rows: 140 ms against 570-640 ms).
        format!(
            "SELECT {}, count(*) FROM (SELECT {chunk} AS {c} FROM {}{above} ORDER BY {chunk} LIMIT {limit}) AS {bb}",
            self.bigint(&format!("max({bb}.{c})")),
            self.driving()
        )
    }

    /// The source rows of the chunk `cursor < pk <= hi`: a chunk cut at its shard's end has
    /// no count from its bounds.
    fn chunk_rows(&self, range: Range, b: &mut Binder) -> String {
        let chunk = self.chunk();
        let above = self.above(range, b);
        let hi = b.bind(Param::Hi(0));
        let join = if above.is_empty() { " WHERE" } else { " AND" };
        format!(
            "SELECT count(*) FROM {}{above}{join} {chunk} <= {hi}",
            self.driving()
        )
    }

    fn chunk_span(&self) -> String {
        let chunk = self.chunk();
        format!(
            "SELECT {}, {} FROM {}",
            self.bigint(&format!("min({chunk})")),
            self.bigint(&format!("max({chunk})")),
            self.driving()
        )
    }

    /// The partials of the chunk `cursor < pk <= hi`, with `chunk = hi`: the query both
    /// [`Self::partials`] and [`Self::rebuild`] write.
    fn partials_select(&self, range: Range, b: &mut Binder) -> String {
        // Bound in the order the placeholders appear: the chunk's value first.
        let hi = self.bigint(&b.bind(Param::Hi(0)));
        let keys = self.w.key_sources();
        let mut conds = Vec::new();
        if let Some(filter) = &self.w.model.filter {
            conds.push(format!("({filter})"));
        }
        conds.extend(keys.iter().map(|k| format!("{k} IS NOT NULL")));
        let chunk = self.chunk();
        if range == Range::Between {
            conds.push(format!("{chunk} > {}", b.bind(Param::Cursor(0))));
        }
        conds.push(format!("{chunk} <= {}", b.bind(Param::Hi(0))));
        // MySQL/MariaDB group by sorting when told `SQL_BIG_RESULT` (a modifier of MySQL 8's
        // SELECT grammar too), else through a keyed temporary table, row by row, on disk past
        // `tmp_table_size`. Measured on MariaDB 10.11, a chunk of 2M events: 1.51 s sorted
        // against 2.40-2.50 s through the temporary table for 200,000 users (2.52 s with 256 MB
        // for it), and 0.89-1.12 s against 1.27-1.54 s for 1,000 groups.
        let modifier = match self.engine() {
            Engine::MySql => "SQL_BIG_RESULT ",
            Engine::Postgres | Engine::Sqlite => "",
        };
        format!(
            "SELECT {modifier}{} FROM {} WHERE {}{}",
            self.select(&hi),
            self.d.chunk_from,
            conds.join(" AND "),
            self.w.group_by()
        )
    }

    /// The staged key columns, quoted, in order: the partials are written in this order.
    fn in_key_order(&self) -> Vec<String> {
        (0..self.w.keys.len())
            .map(|i| self.q(&staged_key(i)))
            .collect()
    }

    /// PostgreSQL: the first chunk's partials (`pk <= hi`) written into a new staging table,
    /// `<stage>_next`, by one `CREATE TABLE AS`, which PostgreSQL may run with parallel
    /// workers where an `INSERT ... SELECT` never is (on 20M events over 2M users, by hand on 2
    /// cores, hashed: 11.6-11.8 s with PostgreSQL's default of two parallel workers, 9.0-11.7 s
    /// with one, 11.7-13.9 s with none, against 13.0 s inserted; the runtime now has such a
    /// chunk's groups sorted, 7.1 s with two, 9.1 s with none); [`Self::replace`] then puts it in
    /// the staging table's place. Empty on the other engines (MySQL commits each DDL statement
    /// on its own, out of the chunk's transaction).
    fn rebuild(&self, range: Range, b: &mut Binder) -> String {
        if self.engine() != Engine::Postgres {
            return String::new();
        }
        let select = self.partials_select(range, b);
        format!(
            "CREATE UNLOGGED TABLE {} AS {select} ORDER BY {}",
            self.stage_next(),
            self.in_key_order().join(", ")
        )
    }

    /// PostgreSQL: renames the table [`Self::rebuild`] wrote to the staging table's name, once
    /// the old one is dropped, in the same transaction. Empty on the other engines.
    fn replace(&self) -> String {
        if self.engine() != Engine::Postgres {
            return String::new();
        }
        format!(
            "ALTER TABLE {} RENAME TO {}",
            self.stage_next(),
            self.q(STAGE_MARKER)
        )
    }

    /// The table a first chunk is written into before it replaces the staging table.
    fn stage_next(&self) -> String {
        stage_named(self.w.model, self.engine(), &format!("{STAGE_MARKER}_next"))
    }

    /// The partials of the chunk `cursor < pk <= hi`, written with `chunk = hi`: absolute
    /// values per `(key, chunk)`, inserted after `clear_chunk` (PostgreSQL, SQLite) or upserted
    /// on the key (MySQL), so the chunk done again rewrites the same rows.
    fn partials(&self, range: Range, b: &mut Binder) -> String {
        let select = self.partials_select(range, b);
        let cols = self.columns();
        let quoted: Vec<String> = cols.iter().map(|c| self.q(c)).collect();
        // In key order. MySQL: each chunk's rows go into the staging table's clustered (key,
        // chunk) index in one sweep, not at random places (with a small buffer pool, one page
        // read per row). PostgreSQL and SQLite, with no index yet: each chunk's rows lie in
        // key order in the table, so the merge reads a range of keys from one run of pages per
        // chunk (stored in the aggregate's order, the merge's ranges read pages all over the
        // table: 2.0 s against 1.1 s for its 200,000 keys beyond a 16 MB cache).
        let in_key_order = self.in_key_order();
        match self.engine() {
            Engine::Postgres | Engine::Sqlite => {
                format!(
                    "INSERT INTO {} ({}) {select} ORDER BY {}",
                    self.stage(),
                    quoted.join(", "),
                    in_key_order.join(", ")
                )
            }
            Engine::MySql => {
                let partials: Vec<String> = (0..self.d.partials.len())
                    .map(|i| self.q(&staged_partial(i)))
                    .collect();
                let n = self.q("n");
                let outer: Vec<String> = quoted.iter().map(|c| format!("{n}.{c}")).collect();
                let set: Vec<String> = partials.iter().map(|p| format!("{p} = {n}.{p}")).collect();
                let order: Vec<String> = in_key_order.iter().map(|k| format!("{n}.{k}")).collect();
                format!(
                    "INSERT INTO {} ({}) SELECT {} FROM ({select}) AS {n} ORDER BY {} ON DUPLICATE KEY UPDATE {}",
                    self.stage(),
                    quoted.join(", "),
                    outer.join(", "),
                    order.join(", "),
                    set.join(", ")
                )
            }
        }
    }
}
