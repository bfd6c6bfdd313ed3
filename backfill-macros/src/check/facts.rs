//! The SQL the user wrote, parsed with sqlparser per dialect and walked with its `Visitor`:
//! the facts the rules in `check` are decided on (column references, qualifiers, aggregates,
//! volatile functions, tables read). Nothing here looks at the text itself, so a string
//! literal (`'user_stats.x'`, `'now()'`) never counts as a reference.

use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments, ObjectName, Query,
    TableFactor, TableWithJoins, Value, Visit, Visitor,
};
use sqlparser::dialect::{Dialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer, Whitespace};

use crate::model::Engine;

/// The sqlparser dialect of an engine.
fn dialect(engine: Engine) -> Box<dyn Dialect> {
    match engine {
        Engine::Postgres => Box::new(PostgreSqlDialect {}),
        Engine::MySql => Box::new(MySqlDialect {}),
        Engine::Sqlite => Box::new(SQLiteDialect {}),
    }
}

/// Refuses what would break the generated statement around the fragment: a `--`/`#` comment
/// (it would comment out the rest of the line) and a placeholder (values are bound by the
/// runtime, in its own order).
fn tokens_ok(dialect: &dyn Dialect, text: &str) -> Result<(), String> {
    let tokens = Tokenizer::new(dialect, text)
        .tokenize()
        .map_err(|e| e.to_string())?;
    for token in tokens {
        match token {
            Token::Whitespace(Whitespace::SingleLineComment { prefix, .. }) => {
                return Err(format!(
                    "a `{}` comment would comment out the rest of the generated statement; use `/* ... */` or remove it",
                    prefix.trim()
                ))
            }
            Token::Placeholder(p) => {
                return Err(format!(
                    "placeholder `{p}`: the runtime binds only the batch range, so write the value itself"
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

fn expect_end(parser: &mut Parser, what: &str) -> Result<(), String> {
    let next = parser.peek_token();
    if next.token == Token::EOF {
        Ok(())
    } else {
        Err(format!(
            "unexpected `{}` after the {what}; write a single {what}",
            next.token
        ))
    }
}

/// Parses one SQL expression (`expr`, `filter`), nothing after it.
pub fn parse_expr(engine: Engine, text: &str) -> Result<Expr, String> {
    let dialect = dialect(engine);
    tokens_ok(dialect.as_ref(), text)?;
    let mut parser = Parser::new(dialect.as_ref())
        .try_with_sql(text)
        .map_err(|e| e.to_string())?;
    let expr = parser.parse_expr().map_err(|e| e.to_string())?;
    expect_end(&mut parser, "expression")?;
    Ok(expr)
}

/// Parses a FROM clause (`events e JOIN users u ON u.id = e.user_id`), nothing after it.
pub fn parse_from(engine: Engine, text: &str) -> Result<Vec<TableWithJoins>, String> {
    let dialect = dialect(engine);
    tokens_ok(dialect.as_ref(), text)?;
    let mut parser = Parser::new(dialect.as_ref())
        .try_with_sql(text)
        .map_err(|e| e.to_string())?;
    let from = parser
        .parse_comma_separated(Parser::parse_table_and_joins)
        .map_err(|e| e.to_string())?;
    expect_end(&mut parser, "FROM clause (tables and joins)")?;
    Ok(from)
}

/// A column reference: its qualifier parts (empty when unqualified) and the column, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnRef {
    /// `["e"]` in `e.amount`, `["s", "t"]` in `s.t.c`.
    pub qualifier: Vec<String>,
    /// The column name.
    pub column: String,
}

impl ColumnRef {
    /// As written, dot-joined.
    pub fn display(&self) -> String {
        let mut parts = self.qualifier.clone();
        parts.push(self.column.clone());
        parts.join(".")
    }
}

/// What a parsed fragment does.
#[derive(Debug, Default, Clone)]
pub struct Facts {
    /// Aggregate calls of the top-level query (not in a subquery, not windowed), by name.
    pub aggregates: Vec<String>,
    /// Volatile calls anywhere, as shown to the user (`now()`, `current_timestamp`).
    pub volatile: Vec<String>,
    /// Every qualified column reference, subqueries included.
    pub qualified: Vec<ColumnRef>,
    /// Unqualified column references of the top-level query.
    pub unqualified: Vec<String>,
    /// Column references of the top-level query outside any aggregate.
    pub outside_aggregate: Vec<ColumnRef>,
    /// Tables read anywhere (subqueries, the FROM clause), as dot-separated parts.
    pub relations: Vec<Vec<String>>,
    /// MySQL's `VALUES(col)` calls, shown as written.
    pub values_calls: Vec<String>,
    /// Tables of the top-level FROM clause (not of subqueries): name parts and alias.
    pub tables: Vec<(Vec<String>, Option<String>)>,
    /// The whole fragment is a single column reference.
    pub single_column: Option<ColumnRef>,
    /// Window function calls (`... OVER (...)`) of the top-level query, by name.
    pub windows: Vec<String>,
}

/// Walks a parsed fragment.
pub fn facts<N: Visit>(node: &N) -> Facts {
    let mut walker = Walker::default();
    let _ = node.visit(&mut walker);
    walker.facts
}

/// The facts of an expression, including whether it is a single column.
pub fn expr_facts(expr: &Expr) -> Facts {
    let mut f = facts(expr);
    f.single_column = column_ref(expr);
    f
}

fn column_ref(expr: &Expr) -> Option<ColumnRef> {
    match expr {
        Expr::Identifier(id) => Some(ColumnRef {
            qualifier: Vec::new(),
            column: id.value.clone(),
        }),
        Expr::CompoundIdentifier(ids) if ids.len() > 1 => {
            let (last, rest) = ids.split_last()?;
            Some(ColumnRef {
                qualifier: rest.iter().map(|i| i.value.clone()).collect(),
                column: last.value.clone(),
            })
        }
        Expr::Nested(inner) => column_ref(inner),
        _ => None,
    }
}

#[derive(Default)]
struct Walker {
    facts: Facts,
    query_depth: usize,
    aggregate_depth: usize,
    /// Whether each expression being visited opened an aggregate, popped in post-visit.
    frames: Vec<bool>,
}

/// Aggregate functions of the three engines (lowercase).
const AGGREGATES: &[&str] = &[
    "count",
    "sum",
    "min",
    "max",
    "avg",
    "total",
    "bool_and",
    "bool_or",
    "every",
    "string_agg",
    "group_concat",
    "array_agg",
    "json_agg",
    "jsonb_agg",
    "json_object_agg",
    "jsonb_object_agg",
    "json_arrayagg",
    "json_objectagg",
    "json_group_array",
    "json_group_object",
    "bit_and",
    "bit_or",
    "bit_xor",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "std",
    "variance",
    "var_pop",
    "var_samp",
    "any_value",
    "mode",
    "percentile_cont",
    "percentile_disc",
    "median",
    "corr",
    "covar_pop",
    "covar_samp",
    "regr_avgx",
    "regr_avgy",
    "regr_count",
    "regr_intercept",
    "regr_r2",
    "regr_slope",
    "regr_sxx",
    "regr_sxy",
    "regr_syy",
    "xmlagg",
    "listagg",
    "range_agg",
];

/// Functions whose value changes between calls or runs, whatever their arguments.
const VOLATILE: &[&str] = &[
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

/// Volatile only without arguments (`unix_timestamp()` is now, `unix_timestamp(x)` is not).
const VOLATILE_WITHOUT_ARGS: &[&str] = &["unix_timestamp", "unixepoch"];

/// SQLite's date functions: volatile with no time value or with `'now'`.
const SQLITE_DATE_FUNCTIONS: &[&str] = &[
    "date",
    "time",
    "datetime",
    "julianday",
    "unixepoch",
    "strftime",
    "timediff",
];

/// Keywords parsed as bare identifiers that are really volatile values.
const VOLATILE_KEYWORDS: &[&str] = &[
    "current_timestamp",
    "current_time",
    "current_date",
    "localtimestamp",
    "localtime",
    "sysdate",
];

fn function_name(f: &Function) -> String {
    f.name
        .0
        .last()
        .and_then(|p| p.as_ident())
        .map(|i| i.value.to_ascii_lowercase())
        .unwrap_or_default()
}

fn args(f: &Function) -> Vec<&FunctionArg> {
    match &f.args {
        FunctionArguments::List(list) => list.args.iter().collect(),
        _ => Vec::new(),
    }
}

fn arg_count(f: &Function) -> usize {
    match &f.args {
        FunctionArguments::None => 0,
        FunctionArguments::Subquery(_) => 1,
        FunctionArguments::List(list) => list.args.len(),
    }
}

/// `'now'`, or PostgreSQL's other special date inputs that read the clock (`'today'`,
/// `'tomorrow'`, `'yesterday'`).
fn is_now_literal(expr: &Expr) -> bool {
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
fn is_temporal(data_type: &sqlparser::ast::DataType) -> bool {
    let name = data_type.to_string().to_ascii_uppercase();
    ["DATE", "TIME", "INTERVAL"]
        .iter()
        .any(|t| name.contains(t))
}

/// A literal, or a sign or parentheses around one: the same value on every row.
fn is_constant(expr: &Expr) -> bool {
    match expr {
        Expr::Value(_) => true,
        Expr::UnaryOp { expr, .. } | Expr::Nested(expr) => is_constant(expr),
        _ => false,
    }
}

fn arg_expr(arg: &FunctionArg) -> Option<&Expr> {
    let inner = match arg {
        FunctionArg::Unnamed(a) => a,
        FunctionArg::Named { arg, .. } | FunctionArg::ExprNamed { arg, .. } => arg,
    };
    match inner {
        FunctionArgExpr::Expr(e) => Some(e),
        _ => None,
    }
}

impl Walker {
    fn column(&mut self, r: ColumnRef) {
        if self.query_depth == 0 && self.aggregate_depth == 0 {
            self.facts.outside_aggregate.push(r.clone());
        }
        if r.qualifier.is_empty() {
            if self.query_depth == 0 {
                self.facts.unqualified.push(r.column);
            }
        } else {
            self.facts.qualified.push(r);
        }
    }

    /// Returns whether the call is an aggregate of this query.
    fn function(&mut self, f: &Function) -> bool {
        let name = function_name(f);
        let qualified_once = f.name.0.len() == 1;
        let n = arg_count(f);
        // MySQL's RAND(expr) seeds from its argument each call: a function of the row, unless
        // the seed is a constant (one sequence over the statement's rows, in their order).
        let seeded_by_row = name == "rand"
            && n == 1
            && !args(f).iter().filter_map(|a| arg_expr(a)).all(is_constant);
        if (VOLATILE.contains(&name.as_str()) && !seeded_by_row)
            || (VOLATILE_WITHOUT_ARGS.contains(&name.as_str()) && n == 0)
        {
            let shown = if matches!(f.args, FunctionArguments::None) {
                name.clone()
            } else {
                format!("{name}()")
            };
            self.facts.volatile.push(shown);
        } else if SQLITE_DATE_FUNCTIONS.contains(&name.as_str()) {
            let a = args(f);
            let no_time_value = if name == "strftime" { n <= 1 } else { n == 0 };
            if no_time_value || a.iter().filter_map(|a| arg_expr(a)).any(is_now_literal) {
                self.facts.volatile.push(format!("{name}('now')"));
            }
        }
        if name == "values" && qualified_once {
            self.facts.values_calls.push(f.to_string());
        }
        // `max(a, b)` / `min(a, b)` are SQLite's scalar functions, not aggregates.
        let scalar_min_max = matches!(name.as_str(), "min" | "max") && n > 1;
        f.over.is_none() && AGGREGATES.contains(&name.as_str()) && !scalar_min_max
    }
}

impl Visitor for Walker {
    type Break = ();

    fn pre_visit_query(&mut self, _query: &Query) -> ControlFlow<()> {
        self.query_depth += 1;
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _query: &Query) -> ControlFlow<()> {
        self.query_depth -= 1;
        ControlFlow::Continue(())
    }

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<()> {
        let parts = relation
            .0
            .iter()
            .filter_map(|p| p.as_ident())
            .map(|i| i.value.clone())
            .collect();
        self.facts.relations.push(parts);
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        if let (TableFactor::Table { name, alias, .. }, 0) = (factor, self.query_depth) {
            let parts = name
                .0
                .iter()
                .filter_map(|p| p.as_ident())
                .map(|i| i.value.clone())
                .collect();
            self.facts
                .tables
                .push((parts, alias.as_ref().map(|a| a.name.value.clone())));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        let mut aggregate = false;
        match expr {
            Expr::Identifier(id) => {
                if id.quote_style.is_none()
                    && VOLATILE_KEYWORDS.contains(&id.value.to_ascii_lowercase().as_str())
                {
                    self.facts.volatile.push(id.value.to_ascii_lowercase());
                } else {
                    self.column(ColumnRef {
                        qualifier: Vec::new(),
                        column: id.value.clone(),
                    });
                }
            }
            Expr::CompoundIdentifier(_) => {
                if let Some(r) = column_ref(expr) {
                    self.column(r);
                }
            }
            Expr::Function(f) => {
                if f.over.is_some() && self.query_depth == 0 {
                    self.facts.windows.push(function_name(f));
                }
                aggregate = self.function(f);
                if aggregate && self.query_depth == 0 {
                    self.facts.aggregates.push(function_name(f));
                }
            }
            Expr::Cast {
                expr: inner,
                data_type,
                ..
            } if is_now_literal(inner) && is_temporal(data_type) => {
                self.facts.volatile.push(inner.to_string());
            }
            Expr::TypedString(ts)
                if is_now_literal(&Expr::Value(ts.value.clone())) && is_temporal(&ts.data_type) =>
            {
                self.facts.volatile.push(ts.value.to_string());
            }
            _ => {}
        }
        if aggregate {
            self.aggregate_depth += 1;
        }
        self.frames.push(aggregate);
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, _expr: &Expr) -> ControlFlow<()> {
        if self.frames.pop() == Some(true) {
            self.aggregate_depth -= 1;
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str) -> Vec<Facts> {
        Engine::ALL
            .iter()
            .map(|e| expr_facts(&parse_expr(*e, text).unwrap_or_else(|err| panic!("{e:?}: {err}"))))
            .collect()
    }

    #[test]
    fn aggregates_and_columns_outside_them() {
        for f in all("sum(e.amount) + count(*) + bonus") {
            assert_eq!(f.aggregates, ["sum", "count"]);
            assert_eq!(f.outside_aggregate.len(), 1);
            assert_eq!(f.outside_aggregate[0].display(), "bonus");
            assert_eq!(f.unqualified, ["bonus"]);
        }
        for f in all("max(a, b)") {
            assert!(f.aggregates.is_empty());
        }
        for f in all("count(*) OVER ()") {
            assert!(f.aggregates.is_empty());
        }
    }

    #[test]
    fn volatile_calls_and_keywords() {
        for text in [
            "now()",
            "CURRENT_TIMESTAMP",
            "current_date",
            "localtimestamp",
            "random() * 2",
            "coalesce(x, uuid())",
            "unix_timestamp()",
        ] {
            for f in all(text) {
                assert!(!f.volatile.is_empty(), "{text}: {f:?}");
            }
        }
        for f in all("datetime('now', '-1 day')") {
            assert_eq!(f.volatile, ["datetime('now')"]);
        }
        for text in [
            "unix_timestamp(created_at)",
            "'now()'",
            "datetime(created_at)",
        ] {
            for f in all(text) {
                assert!(f.volatile.is_empty(), "{text}: {f:?}");
            }
        }
    }

    #[test]
    fn qualifiers_relations_and_values_calls() {
        for f in all("(SELECT max(x) FROM s.user_stats u WHERE u.id = e.id) + user_stats.total") {
            assert_eq!(
                f.relations,
                [vec!["s".to_string(), "user_stats".to_string()]]
            );
            let q: Vec<_> = f.qualified.iter().map(ColumnRef::display).collect();
            assert_eq!(q, ["u.id", "e.id", "user_stats.total"]);
            // Inside the subquery: not a top-level column.
            assert_eq!(f.outside_aggregate.len(), 1);
        }
        let f = expr_facts(&parse_expr(Engine::MySql, "VALUES(total) + 1").unwrap());
        assert_eq!(f.values_calls.len(), 1);
        assert_eq!(
            all("e.total")[0]
                .single_column
                .as_ref()
                .map(ColumnRef::display)
                .as_deref(),
            Some("e.total")
        );
    }

    #[test]
    fn trailing_text_comments_and_placeholders_are_refused() {
        assert!(parse_expr(Engine::Postgres, "sum(a) sum(b)").is_err());
        assert!(parse_expr(Engine::Postgres, "sum(a); DROP TABLE x").is_err());
        assert!(parse_expr(Engine::Postgres, "sum(a) -- total").is_err());
        assert!(parse_expr(Engine::MySql, "a > ?").is_err());
        assert!(parse_expr(Engine::Postgres, "a > $1").is_err());
        assert!(parse_from(
            Engine::Postgres,
            "events e JOIN users u ON u.id = e.user_id"
        )
        .is_ok());
        assert!(parse_from(Engine::Postgres, "events WHERE x = 1").is_err());
    }
}
