//! The names the walker decides on: aggregates, volatile and order-sensitive functions, clock
//! keywords per engine, and small readers of a function call's name and arguments.

use sqlparser::ast::{
    Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments, ObjectName, Value,
};

/// Functions whose value changes between calls or runs, whatever their arguments.
pub(super) const VOLATILE: &[&str] = &[
    "now",
    "current_timestamp",
    "current_time",
    "current_date",
    "clock_timestamp",
    "statement_timestamp",
    "transaction_timestamp",
    "timeofday",
    "localtimestamp",
    "localtime",
    "sysdate",
    "utc_timestamp",
    "utc_date",
    "utc_time",
    "curdate",
    "curtime",
    "random",
    "rand",
    "uuid",
    "uuid_short",
    "gen_random_uuid",
    "uuidv4",
    "uuidv7",
    "uuid_v4",
    "uuid_v7",
    "gen_random_bytes",
    "gen_salt",
    "random_normal",
    "setseed",
    "uuid_generate_v1",
    "uuid_generate_v1mc",
    "uuid_generate_v4",
    "nextval",
    "setval",
    "currval",
    "lastval",
    "nextvalue",
    "last_insert_id",
    "last_insert_rowid",
    "connection_id",
    "random_bytes",
    "randomblob",
    "changes",
    "total_changes",
    "txid_current",
    "pg_current_xact_id",
    "pg_current_xact_id_if_assigned",
    "txid_current_if_assigned",
    "pg_current_snapshot",
    "txid_current_snapshot",
    "pg_backend_pid",
    "row_count",
    "found_rows",
    "sys_guid",
    "newid",
    "current_user",
    "session_user",
    "user",
    "system_user",
    "inet_client_addr",
];

/// Aggregates whose result depends on the order of their input rows: they need an ORDER BY
/// that orders every value they aggregate (lowercase).
pub(super) const ORDER_SENSITIVE: &[&str] = &[
    "string_agg",
    "group_concat",
    "array_agg",
    "array_concat_agg",
    "json_agg",
    "jsonb_agg",
    "json_agg_strict",
    "jsonb_agg_strict",
    "json_object_agg",
    "jsonb_object_agg",
    "json_object_agg_strict",
    "jsonb_object_agg_strict",
    "json_object_agg_unique",
    "jsonb_object_agg_unique",
    "json_arrayagg",
    "json_objectagg",
    "json_group_array",
    "json_group_object",
    "jsonb_group_array",
    "jsonb_group_object",
    "listagg",
    "xmlagg",
];

/// Volatile only without arguments (`unix_timestamp()` is now, `unix_timestamp(x)` is not).
pub(super) const VOLATILE_WITHOUT_ARGS: &[&str] = &["unix_timestamp", "unixepoch"];

/// SQLite's date functions: volatile with no time value or with `'now'`.
pub(super) const SQLITE_DATE_FUNCTIONS: &[&str] = &[
    "date",
    "time",
    "datetime",
    "julianday",
    "unixepoch",
    "strftime",
    "timediff",
];

/// MySQL's clock keywords that the parser reads as column names without parentheses
/// (`UTC_TIMESTAMP` is `UTC_TIMESTAMP()` on MySQL and MariaDB, a column elsewhere; bare `CURDATE`
/// and `SYSDATE` are columns on MariaDB too).
pub(super) const MYSQL_VOLATILE_KEYWORDS: &[&str] = &["utc_timestamp", "utc_date", "utc_time"];

/// Keywords parsed as bare identifiers that are really volatile values.
pub(super) const VOLATILE_KEYWORDS: &[&str] = &[
    "current_timestamp",
    "current_time",
    "current_date",
    "localtimestamp",
    "localtime",
    "sysdate",
];

pub(super) fn name_parts(name: &ObjectName) -> Vec<String> {
    name.0
        .iter()
        .filter_map(|p| p.as_ident())
        .map(|i| i.value.clone())
        .collect()
}

pub(super) fn function_name(f: &Function) -> String {
    f.name
        .0
        .last()
        .and_then(|p| p.as_ident())
        .map(|i| i.value.to_ascii_lowercase())
        .unwrap_or_default()
}

pub(super) fn args(f: &Function) -> Vec<&FunctionArg> {
    match &f.args {
        FunctionArguments::List(list) => list.args.iter().collect(),
        _ => Vec::new(),
    }
}

pub(super) fn arg_count(f: &Function) -> usize {
    match &f.args {
        FunctionArguments::None => 0,
        FunctionArguments::Subquery(_) => 1,
        FunctionArguments::List(list) => list.args.len(),
    }
}

/// `'now'`, or PostgreSQL's other special date inputs that read the clock (`'today'`,
/// `'tomorrow'`, `'yesterday'`).
pub(super) fn is_now_literal(expr: &Expr) -> bool {
    match expr {
        Expr::Value(v) => matches!(
            &v.value,
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s)
                if ["now", "today", "tomorrow", "yesterday"]
                    .iter()
                    .any(|w| s.trim().eq_ignore_ascii_case(w))
        ),
        Expr::Nested(inner) => is_now_literal(inner),
        _ => false,
    }
}

/// A date, time, timestamp or interval type: what a clock word is read as (`'now'::text` is
/// just the text).
pub(super) fn is_temporal(data_type: &sqlparser::ast::DataType) -> bool {
    let name = data_type.to_string().to_ascii_uppercase();
    ["DATE", "TIME", "INTERVAL"]
        .iter()
        .any(|t| name.contains(t))
}

/// A literal, or a sign or parentheses around one: the same value on every row.
pub(super) fn is_constant(expr: &Expr) -> bool {
    match expr {
        Expr::Value(_) => true,
        Expr::UnaryOp { expr, .. } | Expr::Nested(expr) => is_constant(expr),
        _ => false,
    }
}

pub(super) fn arg_expr(arg: &FunctionArg) -> Option<&Expr> {
    let inner = match arg {
        FunctionArg::Unnamed(a) => a,
        FunctionArg::Named { arg, .. } | FunctionArg::ExprNamed { arg, .. } => arg,
    };
    match inner {
        FunctionArgExpr::Expr(e) => Some(e),
        _ => None,
    }
}
