//! MySQL/MariaDB's connection options: a `mariadb://` URL is read as `mysql://` (sqlx's MySQL
//! driver knows only that scheme; MariaDB speaks the same protocol). The engine-agnostic part
//! (the scheme picking the engine, the first direct connection, the pool) is in
//! `cli/connect.rs`.

use std::time::Duration;

use sqlx::mysql::MySqlConnectOptions;

/// The options of a `mysql://` or `mariadb://` URL. The connect timeout is the pool's
/// (`cli/connect.rs`); MySQL needs no session setting for it.
pub(crate) fn options(
    url: &str,
    _connect_timeout: Duration,
) -> Result<MySqlConnectOptions, sqlx::Error> {
    sqlx_url(url).parse()
}

/// `url` with a `mariadb` scheme rewritten to `mysql`, the one sqlx's driver accepts.
pub(crate) fn sqlx_url(url: &str) -> String {
    match url.split_once(':') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("mariadb") => format!("mysql:{rest}"),
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mariadb_url_is_read_as_mysql() {
        assert_eq!(sqlx_url("mariadb://root@h/db"), "mysql://root@h/db");
        assert_eq!(sqlx_url("MariaDB://root@h/db"), "mysql://root@h/db");
        assert_eq!(sqlx_url("mysql://root@h/db"), "mysql://root@h/db");
    }
}
