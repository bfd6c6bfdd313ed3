//! SQLite's connection options: the database file must exist (a backfill writes into an
//! existing table, so a mistyped path must not create an empty file), and the busy timeout
//! follows the connect timeout. The engine-agnostic part (the scheme picking the engine, the
//! first direct connection, the pool) is in `cli/connect.rs`.

use std::time::Duration;

use sqlx::sqlite::SqliteConnectOptions;

/// The options of a `sqlite:` URL: never created if missing; a busy timeout of the connect
/// timeout, at least five seconds.
pub(crate) fn options(
    url: &str,
    connect_timeout: Duration,
) -> Result<SqliteConnectOptions, sqlx::Error> {
    let options: SqliteConnectOptions = url.parse()?;
    Ok(options
        .create_if_missing(false)
        .busy_timeout(connect_timeout.max(Duration::from_secs(5))))
}
