//! The contract between `#[derive(Backfill)]` and the runtime: a backfill's whole definition,
//! built at compile time as `'static` data, with the SQL of every statement for every engine.
//!
//! The runtime never builds SQL from user input: it only binds values ([`Param`]) into the
//! statements the macro generated, checked and quoted.

use std::fmt;

/// A database engine the backfill can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Engine {
    /// PostgreSQL 11 or newer.
    Postgres,
    /// MySQL 8.0.19+ or MariaDB 10.5+ (the MySQL protocol).
    MySql,
    /// SQLite 3.25 or newer.
    Sqlite,
}

impl Engine {
    /// Every engine, in a fixed order.
    pub const ALL: [Engine; 3] = [Engine::Postgres, Engine::MySql, Engine::Sqlite];

    /// Quotes one identifier for this engine, doubling the quote character inside it:
    /// backticks on MySQL/MariaDB, standard double quotes elsewhere.
    ///
    /// ```
    /// use backfill_runtime::Engine;
    ///
    /// assert_eq!(Engine::MySql.quote_ident("total; amount"), "`total; amount`");
    /// assert_eq!(Engine::Postgres.quote_ident(r#"user's "stats""#), r#""user's ""stats""""#);
    /// ```
    pub fn quote_ident(self, ident: &str) -> String {
        match self {
            Engine::MySql => format!("`{}`", ident.replace('`', "``")),
            Engine::Postgres | Engine::Sqlite => format!("\"{}\"", ident.replace('"', "\"\"")),
        }
    }

    /// The engine's lowercase name as used in attributes and on the command line
    /// (`postgres`, `mysql`, `sqlite`).
    pub fn name(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::MySql => "mysql",
            Engine::Sqlite => "sqlite",
        }
    }

    /// The engine's name for people (`PostgreSQL`, `MySQL/MariaDB`, `SQLite`).
    pub fn display_name(self) -> &'static str {
        match self {
            Engine::Postgres => "PostgreSQL",
            Engine::MySql => "MySQL/MariaDB",
            Engine::Sqlite => "SQLite",
        }
    }

    /// Parses `postgres`/`postgresql`, `mysql`/`mariadb` or `sqlite`.
    pub fn parse(name: &str) -> Option<Engine> {
        match name.trim().to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" | "pg" => Some(Engine::Postgres),
            "mysql" | "mariadb" => Some(Engine::MySql),
            "sqlite" => Some(Engine::Sqlite),
            _ => None,
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display_name())
    }
}

/// How a key column's values are bound and stored in the cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// A signed integer type, or an unsigned one narrower than 64 bits; bound and read as
    /// `i64`.
    Int,
    /// `u64`; bound and read as `u64` (MySQL/MariaDB `BIGINT UNSIGNED`).
    UInt,
    /// `String`; bound and read as text, compared by the key's own type and collation.
    Text,
    /// `Vec<u8>`; bound and read as a binary string, compared byte by byte.
    Bytes,
}

/// One column of the conflict key.
#[derive(Debug)]
pub struct KeyPart {
    /// The Rust field name.
    pub field: &'static str,
    /// The target column name, unquoted, as written.
    pub column: &'static str,
    /// How values of this key part are bound.
    pub kind: KeyKind,
}

/// How a column's new value is combined with the stored one on conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// Overwrite with the recomputed value (the default).
    Overwrite,
    /// `GREATEST(stored, new)`, NULLs ignored.
    Greatest,
    /// `LEAST(stored, new)`, NULLs ignored.
    Least,
    /// Keep the stored value; only an inserted row gets the recomputed one.
    Keep,
}

/// One column of the target table written by the backfill.
#[derive(Debug)]
pub struct TargetColumn {
    /// The Rust field name.
    pub field: &'static str,
    /// The target column name, unquoted, as written.
    pub column: &'static str,
    /// The Rust type of the field as written in the struct (for error messages).
    pub rust_type: &'static str,
    /// Whether the column is part of the conflict key.
    pub key: bool,
    /// How the value is merged on conflict.
    pub merge: Merge,
}

/// A value bound into a statement, in the order of [`Stmt::params`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param {
    /// Part `i` of the cursor: the last key of the previous batch (exclusive lower bound).
    Cursor(usize),
    /// Part `i` of the batch's upper key bound (inclusive).
    Hi(usize),
    /// The batch size in distinct keys, bound as `i64`.
    Limit,
    /// The batch size minus one, bound as `i64`: an `OFFSET` to the batch's last key.
    Offset,
}

/// A statement and the values it binds, in order.
#[derive(Debug)]
pub struct Stmt {
    /// The SQL text, placeholders in the engine's syntax (`$1` or `?`).
    pub sql: &'static str,
    /// What to bind for each placeholder, in order (a `?` repeated on MySQL/SQLite is bound
    /// again; `$n` on PostgreSQL is bound once).
    pub params: &'static [Param],
    /// Spans the runtime replaces with a value coerced to a target column's type read from
    /// the catalog, before the statement is prepared (empty for most statements).
    pub holes: &'static [Hole],
}

/// A span of a [`Stmt`]'s SQL standing for `expr` coerced to the type of a target column
/// (`CAST(expr AS numeric(12,2))`): the derive cannot know the column's type, so the runtime
/// reads it from the catalog and fills the span in. Until then the span holds a readable
/// placeholder, `CAST(expr AS <type of "column">)`.
#[derive(Debug)]
pub struct Hole {
    /// Byte offset of the span in [`Stmt::sql`].
    pub at: usize,
    /// Byte length of the span.
    pub len: usize,
    /// Index of the target column in [`Definition::columns`].
    pub column: usize,
    /// The SQL expression to coerce.
    pub expr: &'static str,
}

/// A statement in two variants: for the first range (no lower bound) and for every next one
/// (`key > cursor`). Two statements, not a `cursor IS NULL OR ...` condition, so each can use the
/// key index for its range.
#[derive(Debug)]
pub struct Ranged {
    /// Without a lower bound: binds no [`Param::Cursor`].
    pub first: Stmt,
    /// With `key > cursor`.
    pub next: Stmt,
}

/// Every statement of one backfill on one engine.
#[derive(Debug)]
pub struct Statements {
    /// The engine these statements are written for.
    pub engine: Engine,
    /// Hex hash of all the statements below: stored with the job, so a changed definition is
    /// detected before it writes.
    pub fingerprint: &'static str,
    /// The batch's upper bound: returns one row, the key columns of the largest of the next
    /// `Limit` distinct non-NULL source keys (cast to `bigint`/`text`), and the number of
    /// distinct keys found (`i64`); no row when the source has no more keys.
    pub bounds: Ranged,
    /// In place, where each key is one row of the target: the key `Offset` keys past the
    /// cursor in index order (cast like `bounds`), the batch's upper bound when that many
    /// remain; no row otherwise (then `bounds` reads the tail).
    pub bounds_offset: Ranged,
    /// The upsert of a range `cursor < key <= hi`.
    pub upsert: Ranged,
    /// Read-only: the recomputed rows of a range that are missing from the target or differ from
    /// it. Returns the key columns (cast like `bounds`) and a text column `'missing'` or
    /// `'different'`. Merged and kept columns are compared for presence only.
    pub verify_diff: Ranged,
    /// Read-only: keys of the target in a range that no source row produces. Returns key
    /// columns (cast like `bounds`).
    pub verify_extra: Ranged,
    /// Read-only: keys of the target above the last source key (`key > cursor`, no upper bound).
    pub verify_extra_tail: Stmt,
    /// Number of rows of the target in a range (`i64`), for counting rows written on engines
    /// whose affected-row count includes unchanged rows.
    pub target_count: Ranged,
    /// Number of target rows (`i64`).
    pub target_rows: Stmt,
    /// Number of source rows (after the filter) whose key is NULL (`i64`).
    pub null_keys: Stmt,
    /// Smallest and largest source key (first key column only, cast like `bounds`); used to
    /// estimate progress of integer keys without a full scan. No params.
    pub key_span: Stmt,
    /// The recompute of the whole source as one statement, the article's single
    /// `INSERT ... SELECT ... GROUP BY ... ON CONFLICT` (in place: one `UPDATE` of every row):
    /// the baseline for tests and benchmarks. In place on PostgreSQL and MySQL it has holes:
    /// run what [`BackfillPool::executable_sql`](crate::pool::BackfillPool::executable_sql)
    /// returns for it.
    pub upsert_all: Stmt,
    /// Deletes the target keys of a range `cursor < key <= hi` that no source row (after the
    /// filter) produces: the opt-in repair of keys that left the source.
    pub delete_extra: Ranged,
    /// Deletes the target keys above the last source key (`next`, `key > cursor`), or every
    /// target key when the source has none (`first`).
    pub delete_extra_tail: Ranged,
    /// Reads no row: for each key part, the source key expression and the target key column
    /// as typed scalar subqueries (PostgreSQL: their type oids and collations; MySQL: their
    /// values, typed, and collations), for preflight's type and collation checks.
    pub key_probe: Stmt,
}

impl Statements {
    /// Every statement with a name, in a fixed order: for review, printing and fingerprints.
    pub fn named(&self) -> Vec<(&'static str, &Stmt)> {
        vec![
            ("bounds (first batch)", &self.bounds.first),
            ("bounds", &self.bounds.next),
            ("bounds by offset (first batch)", &self.bounds_offset.first),
            ("bounds by offset", &self.bounds_offset.next),
            ("upsert (first batch)", &self.upsert.first),
            ("upsert", &self.upsert.next),
            ("verify differences (first batch)", &self.verify_diff.first),
            ("verify differences", &self.verify_diff.next),
            ("verify extra keys (first batch)", &self.verify_extra.first),
            ("verify extra keys", &self.verify_extra.next),
            (
                "verify extra keys (after the last key)",
                &self.verify_extra_tail,
            ),
            (
                "target rows in range (first batch)",
                &self.target_count.first,
            ),
            ("target rows in range", &self.target_count.next),
            ("target rows", &self.target_rows),
            ("source rows with a NULL key", &self.null_keys),
            ("source key span", &self.key_span),
            ("single-statement recompute", &self.upsert_all),
            ("delete extra keys (first batch)", &self.delete_extra.first),
            ("delete extra keys", &self.delete_extra.next),
            (
                "delete extra keys (no source key)",
                &self.delete_extra_tail.first,
            ),
            (
                "delete extra keys (after the last key)",
                &self.delete_extra_tail.next,
            ),
            ("key types and collations", &self.key_probe),
        ]
    }
}

/// A whole backfill definition, generated by `#[derive(Backfill)]` as a `static`.
#[derive(Debug)]
pub struct Definition {
    /// The Rust struct's name.
    pub name: &'static str,
    /// The target table as written in the attribute (`schema.name` or `name`), unquoted.
    pub table: &'static str,
    /// The source FROM clause as written; empty when the target's own rows are the source.
    pub from: &'static str,
    /// In place: existing target rows are updated (an `UPDATE` of absolute values over key
    /// ranges of the target), never inserted or deleted.
    pub in_place: bool,
    /// The source filter as written, if any.
    pub filter: Option<&'static str>,
    /// The job name in the progress table (defaults to the table name).
    pub job: &'static str,
    /// A fixed batch size from the attribute; `None` means adaptive sizing.
    pub batch_size: Option<u64>,
    /// `on_conflict = "nothing"`: write-once rows, never updated.
    pub write_once: bool,
    /// MySQL: accept unique keys besides the conflict key.
    pub allow_other_unique_keys: bool,
    /// Whether the mapping is grouped (aggregates) or row to row.
    pub grouped: bool,
    /// The conflict key, in order.
    pub key: &'static [KeyPart],
    /// Every target column written, key columns included, in field order.
    pub columns: &'static [TargetColumn],
    /// PostgreSQL statements, if generated for it.
    pub postgres: Option<Statements>,
    /// MySQL/MariaDB statements, if generated for it.
    pub mysql: Option<Statements>,
    /// SQLite statements, if generated for it.
    pub sqlite: Option<Statements>,
}

impl Definition {
    /// The statements for `engine`, or `None` when the struct was not generated for it.
    pub fn statements(&self, engine: Engine) -> Option<&Statements> {
        match engine {
            Engine::Postgres => self.postgres.as_ref(),
            Engine::MySql => self.mysql.as_ref(),
            Engine::Sqlite => self.sqlite.as_ref(),
        }
    }

    /// The key columns joined for messages: `user_id` or `(tenant_id, user_id)`.
    pub fn key_columns(&self) -> String {
        let cols: Vec<&str> = self.key.iter().map(|k| k.column).collect();
        if cols.len() == 1 {
            cols[0].to_string()
        } else {
            format!("({})", cols.join(", "))
        }
    }
}

/// Implemented by `#[derive(Backfill)]`: the definition of a backfill.
pub trait Backfill {
    /// The key as a tuple of the key fields' types, e.g. `(i64,)`.
    type Key;
    /// The whole definition, built at compile time.
    const DEFINITION: &'static Definition;
}
