//! The validated model of one backfill: plain data, no `syn`, so the SQL generation can be
//! unit-tested and snapshot-tested without any proc-macro machinery.

pub use backfill_core::{Engine, KeyKind, Merge, Strategy};

/// Whether the macro crate was built with `engine`'s feature (the crate's own unit tests check
/// every engine).
pub fn feature_enabled(engine: Engine) -> bool {
    cfg!(test)
        || match engine {
            Engine::Postgres => cfg!(feature = "postgres"),
            Engine::MySql => cfg!(feature = "mysql"),
            Engine::Sqlite => cfg!(feature = "sqlite"),
        }
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
    /// The schema the migrations leave, per engine, when the crate has them.
    pub schema: Vec<CheckedSchema>,
    /// How a run reads the source unless told otherwise (`strategy = "..."`).
    pub strategy: Strategy,
}

/// What the derive records of a schema it checked against, for the runtime's preflight.
#[derive(Debug, Clone)]
pub struct CheckedSchema {
    /// Whose migrations.
    pub engine: Engine,
    /// The directory, as shown.
    pub migrations: String,
    /// `file:line` of each statement left out with `-- backfill: skip`.
    pub skipped: Vec<String>,
    /// The target's columns: name, type as written (uppercase), NOT NULL.
    pub columns: Vec<(String, String, bool)>,
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
