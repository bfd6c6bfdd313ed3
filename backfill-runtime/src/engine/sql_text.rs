//! The SQL text the runtime hands to sqlx, one function per kind of text. Since sqlx 0.9,
//! `query()`, `raw_sql()` and `Executor::prepare` accept a `&'static str` as it is and any
//! other string only wrapped in [`sqlx::AssertSqlSafe`], an assertion that it carries no
//! injected data. The runtime's SQL is built at run time (a progress table's name, a
//! statement's holes filled with column types, a timeout's value), so every such string goes
//! through one of these functions, each saying why its kind of text is safe to run.

use sqlx::{AssertSqlSafe, SqlSafeStr, SqlStr};

/// SQL the runtime assembled from the derive's generated statements and its own templates.
///
/// Safe: every identifier in it (tables, columns, the progress table, an index) was written by
/// the programmer in the struct or the run options and is quoted for the engine
/// ([`Engine::quote_ident`](crate::definition::Engine::quote_ident)); column types come from the
/// catalog's own printing (`format_type`, `COLUMN_TYPE`); every value (keys, cursors, job
/// names, limits) is bound as a parameter, never formatted in.
pub(crate) fn assembled(sql: impl Into<String>) -> SqlStr {
    AssertSqlSafe(sql.into()).into_sql_str()
}

/// A session setting whose value is a number the runtime formatted in (`SET LOCAL
/// statement_timeout = '250ms'`, `PRAGMA busy_timeout = 250`).
///
/// Safe: the value is a duration or count printed by Rust's integer and float formatting,
/// which yields digits and a decimal point only. Settings take no bind parameters on any engine.
pub(crate) fn setting(sql: String) -> SqlStr {
    AssertSqlSafe(sql).into_sql_str()
}

/// A query the operator wrote ([`QueryLag`](crate::throttle::QueryLag),
/// [`ThrottleQuery`](crate::throttle::ThrottleQuery)), run as written, like a query typed into
/// the engine's console.
///
/// Safe: it comes from the code or configuration that set up the run, with the privileges the
/// run's own connection already has; no row's data is ever formatted into it.
pub(crate) fn operator_query(sql: &str) -> SqlStr {
    AssertSqlSafe(sql.to_string()).into_sql_str()
}
