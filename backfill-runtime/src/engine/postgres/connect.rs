//! PostgreSQL's connection options: the URL as sqlx reads it (`postgres://`, `postgresql://`),
//! nothing added. The engine-agnostic part (the scheme picking the engine, the first direct
//! connection, the pool) is in `cli/connect.rs`.

use std::time::Duration;

use sqlx::postgres::PgConnectOptions;

/// The options of a `postgres://` or `postgresql://` URL. The connect timeout is the pool's
/// (`cli/connect.rs`); PostgreSQL needs no session setting for it.
pub(crate) fn options(
    url: &str,
    _connect_timeout: Duration,
) -> Result<PgConnectOptions, sqlx::Error> {
    url.parse()
}
