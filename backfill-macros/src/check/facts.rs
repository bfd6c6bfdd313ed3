//! The SQL the user wrote, parsed with sqlparser per dialect and walked with its `Visitor`:
//! the facts the rules in `check` are decided on (column references, qualifiers, aggregates,
//! volatile functions, tables read). Nothing here looks at the text itself, so a string
//! literal (`'user_stats.x'`, `'now()'`) never counts as a reference.

use std::ops::ControlFlow;

use sqlparser::ast::{
    visit_expressions, BinaryOperator, Distinct, Expr, Function, FunctionArg, FunctionArgExpr,
    FunctionArgumentClause, FunctionArguments, GroupByExpr, ObjectName, OrderByKind, Query, Select,
    SelectItem, SetExpr, TableFactor, TableWithJoins, Value, Visit, Visitor,
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
    /// Results that depend on the order rows arrive in, anywhere (subqueries included).
    pub order_dependent: Vec<OrderDependence>,
    /// `x.*` anywhere (`to_jsonb(s.*)`, `count(s.*)`): the qualifier's parts.
    pub row_wildcards: Vec<Vec<String>>,
    /// Tables of the top-level FROM clause whose alias renames their columns
    /// (`user_stats AS s (uid, prev)`): name parts.
    pub column_aliased: Vec<Vec<String>>,
    /// System and user variables and parameters read or assigned (`@@timestamp`, `@n := @n +
    /// 1`, SQLite's `@x`), as written.
    pub variables: Vec<String>,
}

/// A result that depends on the order rows arrive in: another batch or re-run may see the
/// rows in another order, or pick other rows, and write another value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderDependence {
    /// An order-sensitive aggregate (`group_concat`, `string_agg`, ...) with no ORDER BY: its
    /// name.
    UnorderedAggregate(String),
    /// An order-sensitive aggregate whose ORDER BY leaves rows tied that differ in a column it
    /// aggregates: its name and that column.
    AggregateTie(String, String),
    /// `ANY_VALUE(...)`: any row's value.
    AnyValue,
    /// `LIMIT`, `OFFSET`, `FETCH` or `DISTINCT ON` picking rows with no ORDER BY: the clause.
    UnorderedPick(String),
    /// The same with an ORDER BY that leaves rows tied that differ in a column selected (`*`
    /// when the select list is a wildcard): the clause and that column.
    PickTie(String, String),
    /// `TABLESAMPLE`: a random subset of the rows.
    Sample,
}

/// Walks a fragment parsed for `engine`.
pub fn facts<N: Visit>(engine: Engine, node: &N) -> Facts {
    let mut walker = Walker {
        engine,
        facts: Facts::default(),
        query_depth: 0,
        aggregate_depth: 0,
        frames: Vec::new(),
    };
    let _ = node.visit(&mut walker);
    walker.facts
}

/// The facts of an expression, including whether it is a single column.
pub fn expr_facts(engine: Engine, expr: &Expr) -> Facts {
    let mut f = facts(engine, expr);
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

struct Walker {
    /// What the fragment was parsed for: some words mean a value on one engine only.
    engine: Engine,
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
const ORDER_SENSITIVE: &[&str] = &[
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

/// MySQL's clock keywords that the parser reads as column names without parentheses
/// (`UTC_TIMESTAMP` is `UTC_TIMESTAMP()` on MySQL and MariaDB, a column elsewhere; bare `CURDATE`
/// and `SYSDATE` are columns on MariaDB too).
const MYSQL_VOLATILE_KEYWORDS: &[&str] = &["utc_timestamp", "utc_date", "utc_time"];

/// Keywords parsed as bare identifiers that are really volatile values.
const VOLATILE_KEYWORDS: &[&str] = &[
    "current_timestamp",
    "current_time",
    "current_date",
    "localtimestamp",
    "localtime",
    "sysdate",
];

fn name_parts(name: &ObjectName) -> Vec<String> {
    name.0
        .iter()
        .filter_map(|p| p.as_ident())
        .map(|i| i.value.clone())
        .collect()
}

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

/// The columns `expr` reads (subqueries included), lowercased and dot-joined (`t.name`).
fn columns_read(expr: &Expr) -> Vec<String> {
    let mut columns = Vec::new();
    let _ = visit_expressions(expr, |e| {
        if matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_)) {
            if let Some(r) = column_ref(e) {
                columns.push(r.display().to_ascii_lowercase());
            }
        }
        ControlFlow::<()>::Continue(())
    });
    columns
}

/// `t.name` and `name` are the same column when one of them is unqualified.
fn same_column(a: &str, b: &str) -> bool {
    a == b
        || (a.rsplit('.').next() == b.rsplit('.').next() && (!a.contains('.') || !b.contains('.')))
}

/// The first column of `values` that rows tied on `order` can differ in: none when each value
/// is itself an ORDER BY item, or every column it reads is one. Rows the ORDER BY leaves tied
/// then carry the same values, so the order they come in cannot change the result. (What it
/// cannot see: a collation that ties different strings, `'a'` and `'A'` under MySQL's `_ci`
/// collations.)
fn first_unordered(values: &[&Expr], order: &[&Expr]) -> Option<String> {
    let order: Vec<String> = order
        .iter()
        .map(|e| e.to_string().to_ascii_lowercase())
        .collect();
    values.iter().find_map(|value| {
        if order.contains(&value.to_string().to_ascii_lowercase()) {
            return None;
        }
        columns_read(value)
            .into_iter()
            .find(|c| !order.iter().any(|o| same_column(o, c)))
    })
}

/// An order-sensitive aggregate's dependence on row order, if its ORDER BY (inside the call,
/// or `WITHIN GROUP`) does not order every value it aggregates.
fn aggregate_order(name: &str, f: &Function) -> Option<OrderDependence> {
    let mut order: Vec<&Expr> = f.within_group.iter().map(|o| &o.expr).collect();
    if let FunctionArguments::List(list) = &f.args {
        for clause in &list.clauses {
            if let FunctionArgumentClause::OrderBy(items) = clause {
                order.extend(items.iter().map(|o| &o.expr));
            }
        }
    }
    let values: Vec<&Expr> = args(f).into_iter().filter_map(arg_expr).collect();
    let column = first_unordered(&values, &order)?;
    Some(if order.is_empty() {
        OrderDependence::UnorderedAggregate(name.to_string())
    } else {
        OrderDependence::AggregateTie(name.to_string(), column)
    })
}

/// Whether `expr` calls an aggregate (not windowed).
fn has_aggregate(expr: &Expr) -> bool {
    visit_expressions(expr, |e| match e {
        Expr::Function(f)
            if f.over.is_none() && AGGREGATES.contains(&function_name(f).as_str()) =>
        {
            ControlFlow::Break(())
        }
        _ => ControlFlow::Continue(()),
    })
    .is_break()
}

/// A query that picks some of its rows (`LIMIT`, `OFFSET`, `FETCH`, `TOP`, `DISTINCT ON`)
/// without an ORDER BY that tells them apart: the rows it may pick differ in what it selects
/// (the group keys, when grouped). A select list of constants, or one aggregate row, picks the
/// same whichever rows it gets.
fn pick_order(query: &Query) -> Option<OrderDependence> {
    let select: Option<&Select> = match query.body.as_ref() {
        SetExpr::Select(s) => Some(s),
        _ => None,
    };
    let distinct_on = select.is_some_and(|s| matches!(s.distinct, Some(Distinct::On(_))));
    let clause = if let Some(limit) = &query.limit_clause {
        limit.to_string()
    } else if let Some(fetch) = &query.fetch {
        fetch.to_string()
    } else if let Some(top) = select.and_then(|s| s.top.as_ref()) {
        top.to_string()
    } else if distinct_on {
        "DISTINCT ON".to_string()
    } else {
        return None;
    };
    let clause = clause.trim().to_string();
    let order: Vec<&Expr> = match query.order_by.as_ref().map(|o| &o.kind) {
        Some(OrderByKind::Expressions(items)) => items.iter().map(|o| &o.expr).collect(),
        _ => Vec::new(),
    };
    let unordered = match select {
        None => Some("*".to_string()),
        Some(select) => select_unordered(select, &order),
    };
    let column = unordered?;
    Some(if order.is_empty() {
        OrderDependence::UnorderedPick(clause)
    } else {
        OrderDependence::PickTie(clause, column)
    })
}

/// What rows of `select` tied on `order` can differ in (see [`pick_order`]); ORDER BY items
/// naming a select item by position (`ORDER BY 2`) or alias stand for its expression.
fn select_unordered(select: &Select, order: &[&Expr]) -> Option<String> {
    let mut items = Vec::new();
    let mut aliases = Vec::new();
    for item in &select.projection {
        match item {
            SelectItem::UnnamedExpr(e) => items.push(e),
            SelectItem::ExprWithAlias { expr, alias } => {
                aliases.push((alias.value.to_ascii_lowercase(), expr));
                items.push(expr);
            }
            SelectItem::ExprWithAliases { expr, .. } => items.push(expr),
            _ => return Some("*".to_string()),
        }
    }
    let order: Vec<&Expr> = order
        .iter()
        .map(|o| match o {
            Expr::Value(v) => match &v.value {
                Value::Number(n, _) => n
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| items.get(i.wrapping_sub(1)).copied())
                    .unwrap_or(o),
                _ => o,
            },
            Expr::Identifier(id) => aliases
                .iter()
                .find(|(a, _)| *a == id.value.to_ascii_lowercase())
                .map_or(*o, |(_, e)| *e),
            _ => o,
        })
        .collect();
    match &select.group_by {
        GroupByExpr::Expressions(keys, _) if !keys.is_empty() => {
            first_unordered(&keys.iter().collect::<Vec<_>>(), &order)
        }
        GroupByExpr::All(_) => Some("*".to_string()),
        _ if items.iter().any(|e| has_aggregate(e)) => None,
        _ => first_unordered(&items, &order),
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
        for arg in args(f) {
            if let FunctionArg::Unnamed(FunctionArgExpr::QualifiedWildcard(q)) = arg {
                self.facts.row_wildcards.push(name_parts(q));
            }
        }
        if f.over.is_none() {
            if name == "any_value" {
                self.facts.order_dependent.push(OrderDependence::AnyValue);
            } else if ORDER_SENSITIVE.contains(&name.as_str()) {
                self.facts.order_dependent.extend(aggregate_order(&name, f));
            }
        }
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
        } else if name == "age" && n == 1 {
            // PostgreSQL's `age(t)` is `age(current_date, t)`: it grows every day.
            let shown = f.to_string();
            let shown = if shown.len() <= 30 {
                shown
            } else {
                "age(...)".to_string()
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

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        self.query_depth += 1;
        self.facts.order_dependent.extend(pick_order(query));
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _query: &Query) -> ControlFlow<()> {
        self.query_depth -= 1;
        ControlFlow::Continue(())
    }

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<()> {
        self.facts.relations.push(name_parts(relation));
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table {
            sample: Some(_), ..
        }
        | TableFactor::Derived {
            sample: Some(_), ..
        } = factor
        {
            self.facts.order_dependent.push(OrderDependence::Sample);
        }
        if let (TableFactor::Table { name, alias, .. }, 0) = (factor, self.query_depth) {
            let parts = name_parts(name);
            if alias.as_ref().is_some_and(|a| !a.columns.is_empty()) {
                self.facts.column_aliased.push(parts.clone());
            }
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
                let word = id.value.to_ascii_lowercase();
                let mysql = self.engine == Engine::MySql;
                if id.quote_style.is_none() && mysql && word.starts_with('@') {
                    self.facts.variables.push(id.value.clone());
                } else if id.quote_style.is_none()
                    && (VOLATILE_KEYWORDS.contains(&word.as_str())
                        || (mysql && MYSQL_VOLATILE_KEYWORDS.contains(&word.as_str())))
                {
                    self.facts.volatile.push(word);
                } else {
                    self.column(ColumnRef {
                        qualifier: Vec::new(),
                        column: id.value.clone(),
                    });
                }
            }
            Expr::CompoundIdentifier(ids)
                if self.engine == Engine::MySql
                    && ids
                        .first()
                        .is_some_and(|i| i.quote_style.is_none() && i.value.starts_with('@')) =>
            {
                // `@@session.time_zone`
                self.facts.variables.push(expr.to_string());
            }
            Expr::CompoundIdentifier(_) => {
                if let Some(r) = column_ref(expr) {
                    self.column(r);
                }
            }
            Expr::QualifiedWildcard(q, _) => self.facts.row_wildcards.push(name_parts(q)),
            Expr::BinaryOp {
                left,
                op: BinaryOperator::Assignment,
                ..
            } => {
                // `@n := @n + 1`: a counter over the rows in the order they come.
                self.facts.variables.push(left.to_string());
            }
            Expr::Value(v) => {
                // SQLite reads `@x`, `:x` and `$x` as parameters, NULL when nothing is bound.
                if let Value::Placeholder(p) = &v.value {
                    self.facts.variables.push(p.clone());
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
            .map(|e| {
                expr_facts(
                    *e,
                    &parse_expr(*e, text).unwrap_or_else(|err| panic!("{e:?}: {err}")),
                )
            })
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

    fn order(engine: Engine, text: &str) -> Vec<OrderDependence> {
        let expr = parse_expr(engine, text).unwrap_or_else(|err| panic!("{engine:?}: {err}"));
        expr_facts(engine, &expr).order_dependent
    }

    #[test]
    fn order_sensitive_aggregates_need_an_order_by_over_what_they_aggregate() {
        use OrderDependence::*;
        let pg = Engine::Postgres;
        for (engine, text) in [
            (pg, "string_agg(t.name, ',')"),
            (pg, "array_agg(DISTINCT t.name)"),
            (pg, "jsonb_agg(t.name) FILTER (WHERE t.ok)"),
            (Engine::MySql, "group_concat(t.name SEPARATOR ',')"),
            (Engine::Sqlite, "json_group_array(t.name)"),
            (pg, "1 + (SELECT length(string_agg(x.n, ',')) FROM x)"),
        ] {
            assert!(
                matches!(order(engine, text)[..], [UnorderedAggregate(_)]),
                "{text}"
            );
        }
        assert_eq!(
            order(pg, "string_agg(t.name, ',' ORDER BY t.created_at)"),
            [AggregateTie("string_agg".into(), "t.name".into())]
        );
        for (engine, text) in [
            (pg, "string_agg(t.name, ',' ORDER BY t.created_at, t.name)"),
            (pg, "string_agg(t.name, ',' ORDER BY name DESC)"),
            (pg, "string_agg(lower(t.name), ',' ORDER BY lower(t.name))"),
            (pg, "json_object_agg(t.k, t.v ORDER BY t.k, t.v)"),
            (pg, "listagg(t.name, ',') WITHIN GROUP (ORDER BY t.name)"),
            (
                Engine::MySql,
                "group_concat(t.name ORDER BY t.name SEPARATOR ',')",
            ),
            (Engine::Sqlite, "group_concat(t.name, ',' ORDER BY t.name)"),
            (pg, "string_agg('x', ',')"),
            (pg, "count(*) + sum(t.amount) + max(t.name)"),
        ] {
            assert_eq!(order(engine, text), [], "{text}");
        }
        assert_eq!(order(pg, "any_value(t.name)"), [AnyValue]);
    }

    #[test]
    fn picking_rows_needs_an_order_by_over_what_is_picked() {
        use OrderDependence::*;
        let pg = Engine::Postgres;
        assert_eq!(
            order(pg, "(SELECT u.name FROM u WHERE u.id = e.id LIMIT 1)"),
            [UnorderedPick("LIMIT 1".into())]
        );
        assert_eq!(
            order(
                pg,
                "(SELECT u.name FROM u ORDER BY u.created_at DESC LIMIT 1)"
            ),
            [PickTie("LIMIT 1".into(), "u.name".into())]
        );
        assert_eq!(
            order(pg, "(SELECT u.name FROM u ORDER BY u.id OFFSET 2)"),
            [PickTie("OFFSET 2".into(), "u.name".into())]
        );
        assert_eq!(
            order(pg, "(SELECT * FROM u ORDER BY u.id LIMIT 1) IS NULL"),
            [PickTie("LIMIT 1".into(), "*".into())]
        );
        for text in [
            "(SELECT u.name FROM u ORDER BY u.created_at DESC, u.name LIMIT 1)",
            "(SELECT lower(u.name) AS n FROM u ORDER BY n LIMIT 1)",
            "(SELECT u.name FROM u ORDER BY 1 LIMIT 1)",
            "EXISTS (SELECT 1 FROM u WHERE u.id = e.id LIMIT 1)",
            "(SELECT count(*) FROM u LIMIT 1)",
            "(SELECT u.g FROM u GROUP BY u.g ORDER BY u.g LIMIT 1)",
            "(SELECT u.name FROM u WHERE u.id = e.id)",
        ] {
            assert_eq!(order(pg, text), [], "{text}");
        }
        let from = |text: &str| facts(pg, &parse_from(pg, text).unwrap()).order_dependent;
        assert_eq!(
            from("(SELECT DISTINCT ON (user_id) user_id, amount FROM events) e"),
            [UnorderedPick("DISTINCT ON".into())]
        );
        assert_eq!(
            from("(SELECT DISTINCT ON (user_id) user_id, amount FROM events ORDER BY user_id, created_at DESC) e"),
            [PickTie("DISTINCT ON".into(), "amount".into())]
        );
        assert_eq!(from("events e TABLESAMPLE BERNOULLI (10)"), [Sample]);
        assert_eq!(
            from("events e JOIN (SELECT id FROM users ORDER BY id LIMIT 10) u ON u.id = e.user_id"),
            []
        );
    }

    fn on(engine: Engine, text: &str) -> Facts {
        expr_facts(
            engine,
            &parse_expr(engine, text).unwrap_or_else(|err| panic!("{err}")),
        )
    }

    #[test]
    fn clock_keywords_functions_and_variables() {
        // Bare MySQL clock keywords: the clock on MySQL, a column elsewhere.
        for word in ["UTC_TIMESTAMP", "utc_date", "UTC_TIME"] {
            assert_eq!(
                on(Engine::MySql, word).volatile,
                [word.to_ascii_lowercase()]
            );
            assert!(on(Engine::Postgres, word).volatile.is_empty(), "{word}");
            assert!(on(Engine::MySql, &format!("`{word}`")).volatile.is_empty());
        }
        for text in [
            "uuidv7()",
            "uuid_generate_v1()",
            "gen_random_bytes(16)",
            "random_normal()",
            "uuid_short()",
            "sys_guid()",
            "age(u.born)",
        ] {
            assert!(!on(Engine::Postgres, text).volatile.is_empty(), "{text}");
        }
        for text in ["age(u.died, u.born)", "uuid_generate_v5(u.ns, u.name)"] {
            assert!(on(Engine::Postgres, text).volatile.is_empty(), "{text}");
        }
        assert_eq!(on(Engine::MySql, "@@timestamp").variables, ["@@timestamp"]);
        assert_eq!(
            on(Engine::MySql, "@@session.time_zone").variables,
            ["@@session.time_zone"]
        );
        assert_eq!(
            on(Engine::MySql, "@n := @n + 1").variables,
            ["@n", "@n", "@n"]
        );
        assert_eq!(on(Engine::MySql, "coalesce(@x, 1)").variables, ["@x"]);
        assert_eq!(on(Engine::Sqlite, "@x").variables, ["@x"]);
        // PostgreSQL's prefix `@` is the absolute value.
        assert!(on(Engine::Postgres, "@ u.delta").variables.is_empty());
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
        let f = expr_facts(
            Engine::MySql,
            &parse_expr(Engine::MySql, "VALUES(total) + 1").unwrap(),
        );
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
