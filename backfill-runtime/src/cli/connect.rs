//! From a database URL to a pool of the right engine: the scheme picks the engine, the engine's
//! `engine/<engine>/connect.rs` reads the URL into its options, the first connection is made
//! directly (so a refused connection reports its real cause quickly instead of a pool timeout),
//! and every message carries the redacted URL only.

use std::time::Duration;

use crate::definition::Engine;
use crate::pool::AnyPool;
use crate::throttle::LagProbe;

use super::exit::CommandError;
use super::redact::redact_url;

/// The engine a URL's scheme names: `postgres://`, `postgresql://`, `mysql://`, `mariadb://`,
/// `sqlite:`.
pub(crate) fn engine_of(url: &str) -> Result<Engine, CommandError> {
    let scheme = url
        .split_once(':')
        .map(|(s, _)| s.to_ascii_lowercase())
        .unwrap_or_default();
    match scheme.as_str() {
        "postgres" | "postgresql" => Ok(Engine::Postgres),
        "mysql" | "mariadb" => Ok(Engine::MySql),
        "sqlite" => Ok(Engine::Sqlite),
        _ => Err(CommandError::usage(format!(
            "database url {} has no known scheme: write postgres://, postgresql://, mysql://, mariadb:// or sqlite:",
            redact_url(url)
        ))),
    }
}

/// Connects to `url`, waiting at most `timeout` for the first connection, with a pool of
/// `connections` connections (at least 4).
pub(crate) async fn connect(
    url: &str,
    timeout: Duration,
    connections: u32,
) -> Result<AnyPool, CommandError> {
    let engine = engine_of(url)?;
    let shown = redact_url(url);
    match engine {
        #[cfg(feature = "postgres")]
        Engine::Postgres => {
            let options = crate::engine::postgres::connect::options(url, timeout);
            open(invalid_url(options, &shown)?, timeout, connections, &shown)
                .await
                .map(AnyPool::Postgres)
        }
        #[cfg(feature = "mysql")]
        Engine::MySql => {
            let options = crate::engine::mysql::connect::options(url, timeout);
            open(invalid_url(options, &shown)?, timeout, connections, &shown)
                .await
                .map(AnyPool::MySql)
        }
        #[cfg(feature = "sqlite")]
        Engine::Sqlite => {
            let options = crate::engine::sqlite::connect::options(url, timeout);
            open(invalid_url(options, &shown)?, timeout, connections, &shown)
                .await
                .map(AnyPool::Sqlite)
        }
        #[allow(unreachable_patterns)]
        _ => Err(unsupported(&shown, engine)),
    }
}

#[allow(dead_code)]
fn unsupported(shown: &str, engine: Engine) -> CommandError {
    CommandError::usage(format!(
        "{shown} is a {engine} url but this build has no {engine} support: enable the `{}` feature of backfill",
        engine.name()
    ))
}

/// The guard of `--throttle-query`: the query runs on the backfill's own database.
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
pub(crate) fn throttle_query(pool: &AnyPool, query: &str) -> std::sync::Arc<dyn LagProbe> {
    std::sync::Arc::new(crate::throttle::ThrottleQuery::new(pool.clone(), query))
}

/// The lag probe of `--replica-url`: a PostgreSQL or MySQL/MariaDB replica, connected lazily.
pub(crate) fn replica_probe(url: &str) -> Result<std::sync::Arc<dyn LagProbe>, CommandError> {
    let engine = engine_of(url)?;
    let shown = redact_url(url);
    match engine {
        #[cfg(feature = "postgres")]
        Engine::Postgres => Ok(std::sync::Arc::new(
            crate::throttle::PgReplicaLag::connect(url)?,
        )),
        #[cfg(feature = "mysql")]
        Engine::MySql => Ok(std::sync::Arc::new(
            crate::throttle::MySqlReplicaLag::connect(&crate::engine::mysql::connect::sqlx_url(url))?,
        )),
        Engine::Sqlite => Err(CommandError::usage(format!(
            "--replica-url {shown}: SQLite has no replicas; the lag guard needs a PostgreSQL or MySQL/MariaDB replica"
        ))),
        #[allow(unreachable_patterns)]
        _ => Err(unsupported(&shown, engine)),
    }
}

/// An engine's reading of a URL into options, or the usage error naming the redacted URL.
#[allow(dead_code)]
fn invalid_url<O>(options: Result<O, sqlx::Error>, shown: &str) -> Result<O, CommandError> {
    options.map_err(|e| CommandError::usage(format!("database url {shown} is not valid: {e}")))
}

#[allow(dead_code)]
async fn open<DB>(
    options: <DB::Connection as sqlx::Connection>::Options,
    timeout: Duration,
    connections: u32,
    shown: &str,
) -> Result<sqlx::Pool<DB>, CommandError>
where
    DB: sqlx::Database,
{
    use sqlx::ConnectOptions;
    let options = options.disable_statement_logging();
    let failed = |cause: String| {
        CommandError::failed(format!(
            "cannot connect to {shown}: {cause}; check the url, that the server is up and reachable, and the credentials"
        ))
    };
    // One direct connection first: the pool retries a refused connection until its timeout and
    // then reports only "timed out", hiding the cause.
    match tokio::time::timeout(timeout, options.connect()).await {
        Ok(Ok(conn)) => {
            let _ = sqlx::Connection::close(conn).await;
        }
        Ok(Err(e)) => return Err(failed(e.to_string())),
        Err(_) => {
            return Err(failed(format!(
                "no connection within {} (--connect-timeout)",
                super::format::duration(timeout)
            )))
        }
    }
    sqlx::pool::PoolOptions::<DB>::new()
        .max_connections(connections.max(4))
        .acquire_timeout(timeout.max(Duration::from_secs(30)))
        .connect_with(options)
        .await
        .map_err(|e| failed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_picks_the_engine() {
        for (url, engine) in [
            ("postgres://u@h/db", Engine::Postgres),
            ("postgresql://u@h/db", Engine::Postgres),
            ("POSTGRES://u@h/db", Engine::Postgres),
            ("mysql://root@h/db", Engine::MySql),
            ("mariadb://root@h/db", Engine::MySql),
            ("sqlite:demo.db", Engine::Sqlite),
            ("sqlite:///tmp/demo.db?mode=rwc", Engine::Sqlite),
        ] {
            assert_eq!(engine_of(url).unwrap(), engine, "{url}");
        }
    }

    #[test]
    fn an_unknown_scheme_is_a_usage_error_without_the_password() {
        let err = engine_of("oracle://scott:tiger99@h/db").unwrap_err();
        assert_eq!(err.exit, super::super::Exit::Usage);
        assert!(
            err.message.contains("oracle://scott:***@h/db"),
            "{}",
            err.message
        );
        assert!(!err.message.contains("tiger99"), "{}", err.message);
    }
}
