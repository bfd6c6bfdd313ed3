//! The one error type of the runtime. Every variant names what is involved (table, column,
//! index, key range, job) and its message says what to do; messages are lowercase, no period.

use crate::definition::Engine;

/// Everything a backfill run, check or verify can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The target table does not exist.
    #[error("target table {table} does not exist on {engine}: create it (with a unique index on {key}) before backfilling, or fix `table = \"...\"`")]
    MissingTable {
        /// The table as written in the attribute.
        table: String,
        /// The key columns.
        key: String,
        /// The engine.
        engine: Engine,
    },
    /// A target column does not exist.
    #[error("column {column} of {table} does not exist (field `{field}`): add the column, or map the field with `#[backfill(column = \"...\")]`")]
    MissingColumn {
        /// The table.
        table: String,
        /// The missing column.
        column: String,
        /// The Rust field mapped to it.
        field: String,
    },
    /// No PRIMARY KEY or UNIQUE index covers exactly the key columns.
    #[error("no unique index on {table} ({columns}): the upsert has nothing to conflict on; add one before backfilling: {suggestion}")]
    NoUniqueIndex {
        /// The table.
        table: String,
        /// The key columns, comma separated.
        columns: String,
        /// An engine-valid `CREATE UNIQUE INDEX` statement.
        suggestion: String,
    },
    /// MySQL: the target has a unique index besides the conflict key.
    #[error("{table} has another unique index {index} ({columns}) besides the key ({key}): ON DUPLICATE KEY UPDATE fires on a conflict with any unique key, so a row could overwrite another key's row; drop that index, or accept it with #[backfill(allow_other_unique_keys)]")]
    OtherUniqueKey {
        /// The table.
        table: String,
        /// The other index.
        index: String,
        /// Its columns.
        columns: String,
        /// The conflict key.
        key: String,
    },
    /// A target column's type cannot hold the field's type.
    #[error("column {table}.{column} has type {sql_type}, which cannot hold field `{field}: {rust_type}`: {hint}")]
    TypeMismatch {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// The column's SQL type.
        sql_type: String,
        /// The field.
        field: String,
        /// The field's Rust type.
        rust_type: String,
        /// What to do.
        hint: String,
    },
    /// An upsert leaves out a NOT NULL column without a default: its INSERT cannot build a row.
    #[error("column {column} of {table} is NOT NULL without a default and {name} does not write it: the upsert's INSERT of a new key would fail; to fill columns of rows that already exist, backfill in place (leave out `from`, or add `in_place` with it), otherwise map the column or give it a default")]
    RequiredColumnLeftOut {
        /// The target table.
        table: String,
        /// The column left out.
        column: String,
        /// The struct.
        name: String,
    },
    /// A key's source expression or target column has a type the runtime cannot order,
    /// compare or read back exactly as the field's type, or the two disagree on how keys
    /// compare (type or collation): batches would split or repeat keys.
    #[error("key {column} of {table} (field `{field}: {rust_type}`): {problem}; {hint}")]
    KeyType {
        /// The target table.
        table: String,
        /// The key column.
        column: String,
        /// The key field.
        field: String,
        /// The field's Rust type.
        rust_type: String,
        /// What is wrong, naming the types or collations.
        problem: String,
        /// What to write instead.
        hint: String,
    },
    /// Several source rows of a row-to-row mapping produce one key: one of them would
    /// silently win.
    #[error("{rows} source rows produce key {key} of {table}: a row-to-row mapping writes one target row per source row, so all but one would be lost (MySQL and SQLite keep whichever comes last); nothing of this range was written; aggregate the values per key (e.g. `max(e.amount)`, `count(*)`), filter the source to one row per key, or fix a join that fans out")]
    DuplicateKey {
        /// The target table.
        table: String,
        /// The key.
        key: String,
        /// How many source rows produce it.
        rows: u64,
    },
    /// A range would not move the cursor forward: the key's values do not round-trip through
    /// the cursor, so the same range would repeat forever.
    #[error("job `{job}` on {table} made no progress: the next range ends at {hi}, not after the cursor {cursor}; the key's values do not read back exactly (run `check`, which names the key's type), nothing of this range was written")]
    NoProgress {
        /// The target table.
        table: String,
        /// The job.
        job: String,
        /// The cursor the range started after.
        cursor: String,
        /// The range's upper key as read back.
        hi: String,
    },
    /// A generated statement does not prepare on the server.
    #[error("the {statement} statement for {table} does not prepare on {engine}: {message}\n  sql: {sql}")]
    Prepare {
        /// Which statement.
        statement: String,
        /// The target table.
        table: String,
        /// The engine.
        engine: Engine,
        /// The server's message.
        message: String,
        /// The statement.
        sql: String,
    },
    /// The struct was not generated for this engine.
    #[error("{name} was not generated for {engine}: add it to `#[backfill(engines = \"...\")]` or enable the crate feature")]
    EngineNotGenerated {
        /// The struct.
        name: String,
        /// The engine.
        engine: Engine,
    },
    /// The definition changed since the job started.
    #[error("job `{job}` was started with definition {stored} but this build's definition is {current}: its generated SQL changed; resume with the build that started it, or start over with restart (`--restart`), which recomputes every key")]
    FingerprintMismatch {
        /// The job.
        job: String,
        /// Fingerprint stored in the progress table.
        stored: String,
        /// Fingerprint of this build.
        current: String,
    },
    /// The progress table exists but has another shape.
    #[error("progress table {table} exists but {problem}: it was not created by backfill; point `progress_table` at another name or drop it")]
    ProgressTable {
        /// The progress table.
        table: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The stored cursor cannot be read.
    #[error("job `{job}` has a cursor that cannot be read ({problem}): reset the job or start over with restart")]
    BadCursor {
        /// The job.
        job: String,
        /// Why.
        problem: String,
    },
    /// A batch failed with a permanent error, or a transient one after every retry.
    #[error("batch of {table} with keys {range} failed{retried}: {source}")]
    Batch {
        /// The target table.
        table: String,
        /// The key range, e.g. `> 100 and <= 200`.
        range: String,
        /// `" after N retries"` or empty.
        retried: String,
        /// The database error.
        #[source]
        source: sqlx::Error,
    },
    /// A batch hit the statement timeout even after it was split in two, again and again,
    /// down to one key: one key's work takes longer than the timeout.
    #[error("batch of {table} with keys {range} exceeded the statement timeout{timeout} even split down to one key: one key's rows take longer than that; raise `statement_timeout` (or speed the source query up with an index); the job is resumable: {source}")]
    BatchTimeout {
        /// The target table.
        table: String,
        /// The key range, e.g. `> 100 and <= 200`.
        range: String,
        /// `" of 5s"`, or empty when the server's own timeout fired.
        timeout: String,
        /// The database error.
        #[source]
        source: sqlx::Error,
    },
    /// The generated definition does not fit this runtime (a statement binds a value it cannot
    /// have, or returns a shape the runtime does not expect).
    #[error("the generated definition of {name} does not fit this runtime: {problem}; rebuild with matching versions of backfill-macros and backfill-runtime")]
    Definition {
        /// The struct.
        name: String,
        /// What does not fit.
        problem: String,
    },
    /// A database error outside a batch (connecting, preflight, progress table).
    #[error("{context}: {source}")]
    Database {
        /// What was being done.
        context: String,
        /// The database error.
        #[source]
        source: sqlx::Error,
    },
    /// An invalid option.
    #[error("invalid option: {0}")]
    Options(String),
    /// The lag guard's probe cannot measure what it was pointed at (a server that is not a
    /// replica); retried like a failed probe, then the run stops with it.
    #[error("lag guard: {0}")]
    LagGuard(String),
}

impl Error {
    /// Wraps a database error with what was being done.
    pub fn database(context: impl Into<String>, source: sqlx::Error) -> Error {
        Error::Database {
            context: context.into(),
            source,
        }
    }

    /// Whether this is a preflight failure (the setup is unsafe; nothing was written).
    pub fn is_preflight(&self) -> bool {
        matches!(
            self,
            Error::MissingTable { .. }
                | Error::MissingColumn { .. }
                | Error::NoUniqueIndex { .. }
                | Error::OtherUniqueKey { .. }
                | Error::TypeMismatch { .. }
                | Error::KeyType { .. }
                | Error::RequiredColumnLeftOut { .. }
                | Error::Prepare { .. }
                | Error::EngineNotGenerated { .. }
        )
    }
}
