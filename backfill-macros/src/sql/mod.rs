//! Model + engine -> every statement of the `Statements` contract, as plain strings. Pure
//! functions: unit-tested and snapshot-tested here without any proc-macro machinery.
//!
//! Every identifier is quoted for its engine; the user's expressions, filter and FROM clause
//! are inserted as written (they were parsed and checked for every engine); values are never
//! formatted in, only placeholders for the batch range and the limit.
//!
//! This file holds the writer and what every statement shares (ranges, placeholders, holes, key
//! conditions); the statements are in files named for their family: `bounds` (the batch's
//! range and the counts), `write` (the upsert, in place the `UPDATE`), `verify` (comparisons,
//! extra keys and their repair, duplicate keys), `probe` (key types and collations); `tests`
//! snapshots every statement per mapping shape and engine.

use backfill_core::{fingerprint, Owned, Param};

use crate::model::{Backfill, Column, Engine, KeyKind, Merge};

mod bounds;
mod decompose;
mod probe;
mod scan;
mod verify;
mod write;

pub(crate) use decompose::decompose;

/// The statement types, written here as owned strings and emitted as the runtime's `'static`
/// ones (the same structs, see `backfill_core::Storage`).
pub type Stmt = backfill_core::Stmt<Owned>;
/// A span of a statement standing for an expression coerced to a column's type.
pub type Hole = backfill_core::Hole<Owned>;
/// The first-range and next-range variants of a statement.
pub type Ranged = backfill_core::Ranged<Owned>;
/// Every statement of one backfill on one engine.
pub type Statements = backfill_core::Statements<Owned>;

/// Marks a hole while a statement is being written; replaced by its placeholder when the
/// statement is finished. A control character no parsed SQL of the user contains.
const HOLE_MARK: char = '\u{1}';

/// Every statement of `model` for `engine`.
pub fn statements(model: &Backfill, engine: Engine) -> Statements {
    let w = StatementWriter::new(model, engine);
    let mut out = Statements {
        engine,
        fingerprint: String::new(),
        bounds: w.ranged(|w, r| w.bounds(r), Range::Whole, Range::Above),
        bounds_offset: w.ranged(|w, r| w.bounds_offset(r), Range::Whole, Range::Above),
        upsert: w.ranged(|w, r| w.upsert(r), Range::UpTo, Range::Between),
        insert: w.ranged(|w, r| w.insert(r), Range::UpTo, Range::Between),
        verify_diff: w.ranged(|w, r| w.verify_diff(r), Range::UpTo, Range::Between),
        verify_extra: w.ranged(|w, r| w.verify_extra(r), Range::UpTo, Range::Between),
        verify_extra_tail: w.stmt(|w, b| w.verify_extra(b), Range::Above),
        target_count: w.ranged(|w, r| w.target_count(r), Range::UpTo, Range::Between),
        target_rows: w.stmt(|w, _| w.target_rows(), Range::Whole),
        null_keys: w.stmt(|w, _| w.null_keys(), Range::Whole),
        key_span: w.stmt(|w, _| w.key_span(), Range::Whole),
        upsert_all: w.stmt(|w, b| w.upsert(b), Range::Whole),
        delete_extra: w.ranged(|w, r| w.delete_extra(r), Range::UpTo, Range::Between),
        delete_extra_tail: w.ranged(|w, r| w.delete_extra(r), Range::Whole, Range::Above),
        key_probe: w.stmt(|w, _| w.key_probe(), Range::Whole),
        duplicate_keys: w.ranged(|w, r| w.duplicate_keys(r), Range::UpTo, Range::Between),
        scan: Vec::new(),
        scan_refused: None,
    };
    out.fingerprint = fingerprint(&out);
    match scan::scan(model, engine) {
        Ok(scan) => out.scan.push(scan),
        Err(why) => out.scan_refused = Some(why),
    }
    out
}

/// Which part of the key space a statement covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Range {
    /// No key condition.
    Whole,
    /// `key <= hi` (the first batch).
    UpTo,
    /// `key > cursor AND key <= hi`.
    Between,
    /// `key > cursor` (bounds of a next batch, the tail after the last key).
    Above,
}

/// Placeholders in the engine's syntax, recording what each binds, and the holes.
struct Binder {
    engine: Engine,
    params: Vec<Param>,
    holes: Vec<Hole>,
}

impl Binder {
    /// A hole for `expr` coerced to the type of column `column` (see [`Hole`]); its offset is
    /// fixed when the statement is finished.
    fn hole(&mut self, column: usize, name: &str, expr: String) -> String {
        let placeholder = format!("CAST({expr} AS <type of {name}>)");
        let n = self.holes.len();
        self.holes.push(Hole {
            at: 0,
            len: placeholder.len(),
            column,
            expr,
        });
        format!("{HOLE_MARK}{n}:{placeholder}{HOLE_MARK}")
    }

    /// The statement: hole marks removed, the offset of every place a hole was used recorded
    /// (a hole may be used more than once).
    fn finish(self, marked: String) -> Stmt {
        let mut holes = Vec::new();
        let mut sql = String::with_capacity(marked.len());
        let mut pieces = marked.split(HOLE_MARK);
        sql.push_str(pieces.next().unwrap_or_default());
        while let Some(inside) = pieces.next() {
            let (n, placeholder) = inside.split_once(':').expect("a hole mark has its number");
            let n: usize = n.parse().expect("a hole mark's number");
            holes.push(Hole {
                at: sql.len(),
                ..self.holes[n].clone()
            });
            sql.push_str(placeholder);
            sql.push_str(pieces.next().unwrap_or_default());
        }
        Stmt {
            sql,
            params: self.params,
            holes,
        }
    }

    fn bind(&mut self, param: Param) -> String {
        match self.engine {
            Engine::Postgres => {
                let n = match self.params.iter().position(|p| *p == param) {
                    Some(i) => i + 1,
                    None => {
                        self.params.push(param);
                        self.params.len()
                    }
                };
                format!("${n}")
            }
            Engine::MySql | Engine::Sqlite => {
                self.params.push(param);
                "?".to_string()
            }
        }
    }
}

/// Writes the statements of one backfill for one engine.
struct StatementWriter<'m> {
    model: &'m Backfill,
    engine: Engine,
    /// The key columns, in order.
    keys: Vec<&'m Column>,
}

impl<'m> StatementWriter<'m> {
    fn new(model: &'m Backfill, engine: Engine) -> Self {
        StatementWriter {
            model,
            engine,
            keys: model.key_columns().collect(),
        }
    }

    fn ranged(
        &self,
        f: impl Fn(&Self, (Range, &mut Binder)) -> String,
        first: Range,
        next: Range,
    ) -> Ranged {
        Ranged {
            first: self.stmt(&f, first),
            next: self.stmt(&f, next),
        }
    }

    fn stmt(&self, f: impl Fn(&Self, (Range, &mut Binder)) -> String, range: Range) -> Stmt {
        let mut binder = Binder {
            engine: self.engine,
            params: Vec::new(),
            holes: Vec::new(),
        };
        let sql = f(self, (range, &mut binder));
        binder.finish(sql)
    }

    /// `name` quoted as an identifier for the engine.
    fn quoted(&self, name: &str) -> String {
        self.engine.quote_ident(name)
    }

    fn table(&self) -> String {
        self.engine.quote_table(&self.model.table)
    }

    /// The source expression of a column: as written, or the same-named source column.
    fn source(&self, c: &Column) -> String {
        match &c.exprs[self.engine.index()] {
            Some(expr) => expr.clone(),
            None => self.quoted(&c.column),
        }
    }

    fn key_sources(&self) -> Vec<String> {
        self.keys.iter().map(|c| self.source(c)).collect()
    }

    fn key_alias(&self, i: usize) -> String {
        self.quoted(&format!("__k{i}"))
    }

    /// A key value as the runtime reads it. Lossless for the types preflight accepts for each
    /// kind (integers of any width, text, binary strings): it only names one type per kind.
    fn cast(&self, expr: &str, kind: KeyKind) -> String {
        match (self.engine, kind) {
            (Engine::Postgres, KeyKind::Int | KeyKind::UInt) => format!("CAST({expr} AS BIGINT)"),
            (Engine::Postgres, KeyKind::Text) => format!("CAST({expr} AS TEXT)"),
            (Engine::Postgres, KeyKind::Bytes) => format!("CAST({expr} AS BYTEA)"),
            (Engine::MySql, KeyKind::Int) => format!("CAST({expr} AS SIGNED)"),
            (Engine::MySql, KeyKind::UInt) => format!("CAST({expr} AS UNSIGNED)"),
            (Engine::MySql, KeyKind::Text) => format!("CAST({expr} AS CHAR)"),
            (Engine::MySql, KeyKind::Bytes) => format!("CAST({expr} AS BINARY)"),
            (Engine::Sqlite, _) => expr.to_string(),
        }
    }

    fn kind(&self, i: usize) -> KeyKind {
        self.keys[i].key.unwrap_or(KeyKind::Int)
    }

    /// `keys > cursor` (`strict_greater`) or `keys <= hi`, lexicographic for composite keys:
    /// row values on PostgreSQL and SQLite, expanded on MySQL (index-friendly on MariaDB).
    fn compare(&self, exprs: &[String], above: bool, b: &mut Binder) -> String {
        let param = |i| {
            if above {
                Param::Cursor(i)
            } else {
                Param::Hi(i)
            }
        };
        let (strict, last) = if above { (">", ">") } else { ("<", "<=") };
        if exprs.len() == 1 {
            return format!("{} {last} {}", exprs[0], b.bind(param(0)));
        }
        match self.engine {
            Engine::Postgres | Engine::Sqlite => {
                let ps: Vec<String> = (0..exprs.len()).map(|i| b.bind(param(i))).collect();
                format!("({}) {last} ({})", exprs.join(", "), ps.join(", "))
            }
            Engine::MySql => self.expanded(exprs, 0, strict, last, &param, b),
        }
    }

    fn expanded(
        &self,
        exprs: &[String],
        i: usize,
        strict: &str,
        last: &str,
        param: &dyn Fn(usize) -> Param,
        b: &mut Binder,
    ) -> String {
        if i == exprs.len() - 1 {
            return format!("{} {last} {}", exprs[i], b.bind(param(i)));
        }
        let lt = format!("{} {strict} {}", exprs[i], b.bind(param(i)));
        let eq = format!("{} = {}", exprs[i], b.bind(param(i)));
        let rest = self.expanded(exprs, i + 1, strict, last, param, b);
        format!("({lt} OR ({eq} AND {rest}))")
    }

    /// The key range over `exprs` (source key expressions or target key columns).
    fn range(&self, exprs: &[String], range: Range, b: &mut Binder) -> Vec<String> {
        match range {
            Range::Whole => Vec::new(),
            Range::UpTo => vec![self.compare(exprs, false, b)],
            Range::Above => vec![self.compare(exprs, true, b)],
            Range::Between => vec![self.compare(exprs, true, b), self.compare(exprs, false, b)],
        }
    }

    /// ` WHERE (filter) AND k IS NOT NULL AND <range>` over the source.
    fn source_where(&self, range: Range, b: &mut Binder) -> String {
        let keys = self.key_sources();
        let mut conds = Vec::new();
        if let Some(filter) = &self.model.filter {
            conds.push(format!("({filter})"));
        }
        conds.extend(keys.iter().map(|k| format!("{k} IS NOT NULL")));
        conds.extend(self.range(&keys, range, b));
        format!(" WHERE {}", conds.join(" AND "))
    }

    fn group_by(&self) -> String {
        if self.model.grouped {
            format!(" GROUP BY {}", self.key_sources().join(", "))
        } else {
            String::new()
        }
    }

    /// The source: `from` as written, or the target itself when it is updated in place from its
    /// own rows.
    fn from(&self) -> String {
        match &self.model.from {
            Some(from) => format!(" FROM {from}"),
            None => format!(" FROM {}", self.table()),
        }
    }

    /// In place from another source: ranges are cut on the target's own key index, every
    /// existing row in them visited whether or not the source has rows for it.
    fn ranges_on_target(&self) -> bool {
        self.model.in_place && self.model.from.is_some()
    }

    /// What batch ranges are cut on: the key expressions, the FROM clause and the WHERE clause
    /// with the range (the target's own key index in place, else the source).
    fn key_source(&self, range: Range, b: &mut Binder) -> (Vec<String>, String, String) {
        if self.ranges_on_target() {
            let keys = self.target_keys();
            let mut conds: Vec<String> = keys.iter().map(|k| format!("{k} IS NOT NULL")).collect();
            conds.extend(self.range(&keys, range, b));
            let from = format!(" FROM {} AS {}", self.table(), self.quoted("__t"));
            (keys, from, format!(" WHERE {}", conds.join(" AND ")))
        } else {
            let where_ = self.source_where(range, b);
            (self.key_sources(), self.from(), where_)
        }
    }

    /// Columns verify compares by value: overwritten ones (merged and kept columns, and every
    /// column of write-once rows, are compared for presence only).
    fn compared(&self) -> Vec<(usize, &'m Column)> {
        if self.model.write_once {
            return Vec::new();
        }
        self.model
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.key.is_none() && c.merge == Merge::Overwrite)
            .collect()
    }

    /// `a` and `b` (two values of one column's type) are not the same value, byte for byte:
    /// equality by the type or collation alone would take `citext` 'alice' for 'Alice', a
    /// case- or accent-insensitive collation 'e' for 'é', a PAD SPACE or RTRIM collation 'b'
    /// for 'b ', and leave the stored value wrong while verify says clean. So the values must
    /// be equal and so must their representations: text under the byte-wise "C" collation on
    /// PostgreSQL (exact for every type whose values are equal), the binary string on
    /// MySQL/MariaDB, and a BINARY comparison on SQLite.
    fn distinct(&self, a: &str, b: &str) -> String {
        match self.engine {
            Engine::Postgres => format!(
                "({a} IS DISTINCT FROM {b} OR CAST({a} AS TEXT) COLLATE \"C\" IS DISTINCT FROM CAST({b} AS TEXT) COLLATE \"C\")"
            ),
            Engine::MySql => {
                format!("NOT ({a} <=> {b} AND CAST({a} AS BINARY) <=> CAST({b} AS BINARY))")
            }
            Engine::Sqlite => format!("{a} IS NOT {b} COLLATE BINARY"),
        }
    }

    fn target_keys(&self) -> Vec<String> {
        let t = self.quoted("__t");
        self.keys
            .iter()
            .map(|c| format!("{t}.{}", self.quoted(&c.column)))
            .collect()
    }
}

/// All statements as text, for review and snapshots.
#[cfg(test)]
pub fn render(statements: &Statements) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "-- {} (fingerprint {})",
        statements.engine.display_name(),
        statements.fingerprint
    );
    for (name, stmt) in statements.named() {
        let _ = writeln!(out, "\n-- {name}; binds {:?}\n{};", stmt.params, stmt.sql);
    }
    out
}

/// The scan strategy's statements as text, with the merge phase's bounds, upsert and insert
/// (grouped, and where the engine has it for one partial per key), for review and snapshots.
#[cfg(test)]
pub fn render_scan(statements: &Statements) -> String {
    use std::fmt::Write as _;
    let Some(scan) = statements.scan.first() else {
        return format!(
            "-- no scan: {}\n",
            statements.scan_refused.as_deref().unwrap_or_default()
        );
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "-- {} scan of {} (fingerprint {}); staging columns {:?}",
        statements.engine.display_name(),
        scan.driving,
        scan.fingerprint,
        scan.columns
    );
    let mut merge = vec![
        ("merge: bounds", &scan.merge.bounds.next),
        ("merge: upsert", &scan.merge.upsert.next),
        ("merge: insert into an empty range", &scan.merge.insert.next),
    ];
    for one in &scan.merge_one {
        merge.extend([
            ("merge, one partial per key: bounds", &one.bounds.next),
            ("merge, one partial per key: upsert", &one.upsert.next),
            ("merge, one partial per key: insert", &one.insert.next),
        ]);
    }
    let merge = merge.into_iter().filter(|(_, stmt)| !stmt.sql.is_empty());
    for (name, stmt) in scan.named().into_iter().chain(merge) {
        let sql = stmt.sql.replace(backfill_core::scan::MARK, "$$");
        let _ = writeln!(out, "\n-- {name}; binds {:?}\n{sql};", stmt.params);
    }
    out
}

#[cfg(test)]
mod tests;
