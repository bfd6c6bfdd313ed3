//! The validated model of one backfill: plain data, no `syn`, so the SQL generation can be
//! unit-tested and snapshot-tested without any proc-macro machinery.

/// A database engine the statements are written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Engine {
    /// PostgreSQL.
    Postgres,
    /// MySQL / MariaDB.
    MySql,
    /// SQLite.
    Sqlite,
}

impl Engine {
    /// Every engine, in the runtime's fixed order.
    pub const ALL: [Engine; 3] = [Engine::Postgres, Engine::MySql, Engine::Sqlite];

    /// The attribute / feature name.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::MySql => "mysql",
            Engine::Sqlite => "sqlite",
        }
    }

    /// The engine's name for people.
    pub fn display_name(self) -> &'static str {
        match self {
            Engine::Postgres => "PostgreSQL",
            Engine::MySql => "MySQL/MariaDB",
            Engine::Sqlite => "SQLite",
        }
    }

    /// The same names `Engine::parse` of the runtime accepts.
    pub fn parse(name: &str) -> Option<Engine> {
        match name.trim().to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" | "pg" => Some(Engine::Postgres),
            "mysql" | "mariadb" => Some(Engine::MySql),
            "sqlite" => Some(Engine::Sqlite),
            _ => None,
        }
    }

    /// Position in [`Engine::ALL`], for per-engine arrays.
    pub fn index(self) -> usize {
        match self {
            Engine::Postgres => 0,
            Engine::MySql => 1,
            Engine::Sqlite => 2,
        }
    }

    /// Whether the macro crate was built with this engine's feature (the crate's own unit
    /// tests check every engine).
    pub fn feature_enabled(self) -> bool {
        cfg!(test)
            || match self {
                Engine::Postgres => cfg!(feature = "postgres"),
                Engine::MySql => cfg!(feature = "mysql"),
                Engine::Sqlite => cfg!(feature = "sqlite"),
            }
    }
}

/// How a key column is bound: mirrors `backfill::__private::KeyKind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// A signed integer, or an unsigned one narrower than 64 bits, bound as `i64`.
    Int,
    /// `u64`, bound as `u64` (MySQL/MariaDB `BIGINT UNSIGNED`).
    UInt,
    /// Text.
    Text,
    /// `Vec<u8>`: binary strings, compared byte by byte.
    Bytes,
}

/// How a column is combined with the stored value: mirrors `backfill::__private::Merge`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// Overwrite with the recomputed value.
    Overwrite,
    /// Larger of stored and new, NULLs ignored.
    Greatest,
    /// Smaller of stored and new, NULLs ignored.
    Least,
    /// Keep the stored value.
    Keep,
}

/// One target column and where its value comes from.
#[derive(Debug, Clone)]
pub struct Column {
    /// The Rust field name.
    pub field: String,
    /// The target column, unquoted.
    pub column: String,
    /// The field's Rust type as written.
    pub rust_type: String,
    /// `Some` for a key column, with how it is bound.
    pub key: Option<KeyKind>,
    /// How the value is merged on conflict.
    pub merge: Merge,
    /// The source expression per engine (indexed by [`Engine::index`]); `None` means the
    /// source column of the same name as the target column.
    pub exprs: [Option<String>; 3],
}

/// A whole validated backfill.
#[derive(Debug, Clone)]
pub struct Backfill {
    /// The Rust struct's name.
    pub name: String,
    /// The target table as written (`schema.name` or `name`).
    pub table: String,
    /// The source FROM clause as written; `None`: the target's own rows, updated in place.
    pub from: Option<String>,
    /// Existing target rows are updated (`UPDATE` of absolute values over key ranges of the
    /// target), never inserted: `from` left out, or `in_place` with a `from`.
    pub in_place: bool,
    /// The source filter as written.
    pub filter: Option<String>,
    /// The job name.
    pub job: String,
    /// A fixed batch size.
    pub batch_size: Option<u64>,
    /// `on_conflict = "nothing"`.
    pub write_once: bool,
    /// MySQL: unique keys besides the conflict key are accepted.
    pub allow_other_unique_keys: bool,
    /// The source is grouped by the key expressions.
    pub grouped: bool,
    /// The engines statements are generated for.
    pub engines: Vec<Engine>,
    /// Every target column, key columns included, in field order.
    pub columns: Vec<Column>,
}

impl Backfill {
    /// The key columns, in order.
    pub fn key_columns(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(|c| c.key.is_some())
    }

    /// The non-key columns, in order.
    pub fn value_columns(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(|c| c.key.is_none())
    }
}
