//! The SQL the user wrote, parsed with sqlparser per dialect and walked with its `Visitor`:
//! the facts the rules in `check` are decided on (column references, qualifiers, aggregates,
//! volatile functions, tables read). Nothing here looks at the text itself, so a string
//! literal (`'user_stats.x'`, `'now()'`) never counts as a reference.
//!
//! `parse` turns text into sqlparser's AST per dialect, `names` holds the function and keyword
//! lists the walker decides on, `order` the order-dependence of aggregates and row picks;
//! this file is the walker itself.

use std::ops::ControlFlow;

use sqlparser::ast::{
    BinaryOperator, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments, ObjectName,
    Query, TableFactor, TableWithJoins, Value, Visit, Visitor,
};

use crate::model::Engine;
use backfill_core::allowlist;

mod names;
mod order;

pub use crate::dialect::{parse_expr, parse_from};
use names::{
    arg_count, arg_expr, args, function_name, is_constant, is_now_literal, is_temporal, name_parts,
    MYSQL_VOLATILE_KEYWORDS, ORDER_SENSITIVE, SQLITE_DATE_FUNCTIONS, VOLATILE, VOLATILE_KEYWORDS,
    VOLATILE_WITHOUT_ARGS,
};
use order::{aggregate_order, pick_order};

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
    /// Calls of functions the dialect's allowlist does not hold (and not reported as volatile,
    /// order-dependent or windowed already), as lowercase dotted names (`slugify`,
    /// `util.normalize`); and `OPERATOR(schema.op)` calls, as written.
    pub unknown_functions: Vec<String>,
    /// For a FROM clause: the first source that can give a row of the first several rows (a
    /// joined table, a second table, a derived table, a table function), as written.
    pub fan_out: Option<String>,
    /// Unqualified names anywhere, subqueries included: a bare table alias there is a
    /// whole-row reference (`(SELECT to_jsonb(s))`).
    pub unqualified_anywhere: Vec<String>,
    /// Names of the common table expressions defined anywhere (`WITH x AS (...)`).
    pub ctes: Vec<String>,
    /// For an expression: what its value is, as far as a schema can tell its type.
    pub shape: Option<Shape>,
}

/// The outermost form of an expression, for inferring its type from the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// A column, as written.
    Column(ColumnRef),
    /// `count(...)`: an integer.
    Count,
    /// `sum(col)` / `total(col)`: the column's kind (SQLite's `total` is a float).
    Sum(ColumnRef),
    /// `avg(col)`: fractional.
    Avg(ColumnRef),
    /// `min(col)` / `max(col)`: the column's kind.
    MinMax(ColumnRef),
    /// Text: `a || b`, `concat(...)`, `lower(...)`, a string literal.
    Text,
    /// `CAST(x AS t)` / `x::t`: the type as written.
    Cast(String),
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

/// The facts of a FROM clause, including whether it can give several rows per row of its
/// first table.
pub fn from_facts(engine: Engine, from: &[TableWithJoins]) -> Facts {
    let mut f = facts(engine, &from.to_vec());
    let plain = |factor: &TableFactor| matches!(factor, TableFactor::Table { args: None, .. });
    let shown = |factor: &TableFactor| {
        let text = factor.to_string();
        if text.chars().count() <= 32 {
            text
        } else {
            format!("{}...", text.chars().take(29).collect::<String>())
        }
    };
    let mut factors = from
        .iter()
        .flat_map(|t| std::iter::once(&t.relation).chain(t.joins.iter().map(|j| &j.relation)));
    f.fan_out = match (factors.next(), factors.next()) {
        (_, Some(second)) => Some(shown(second)),
        (Some(first), None) if !plain(first) => Some(shown(first)),
        _ => None,
    };
    f
}

/// The facts of an expression, including whether it is a single column.
pub fn expr_facts(engine: Engine, expr: &Expr) -> Facts {
    let mut f = facts(engine, expr);
    f.single_column = column_ref(expr);
    f.shape = shape(expr);
    f
}

/// The outermost form of `expr` that says something about its type.
fn shape(expr: &Expr) -> Option<Shape> {
    match expr {
        Expr::Nested(inner) => shape(inner),
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) => column_ref(expr).map(Shape::Column),
        Expr::Cast { data_type, .. } => Some(Shape::Cast(data_type.to_string())),
        Expr::BinaryOp {
            op: BinaryOperator::StringConcat,
            ..
        } => Some(Shape::Text),
        Expr::Value(v) if matches!(v.value, Value::SingleQuotedString(_)) => Some(Shape::Text),
        Expr::Function(f) if f.over.is_none() => {
            let name = function_name(f);
            let arg = || {
                let a = args(f);
                match a.as_slice() {
                    [only] => arg_expr(only).and_then(column_ref),
                    _ => None,
                }
            };
            match name.as_str() {
                "count" => Some(Shape::Count),
                "sum" => arg().map(Shape::Sum),
                "avg" => arg().map(Shape::Avg),
                "min" | "max" if arg_count(f) == 1 => arg().map(Shape::MinMax),
                "concat" | "concat_ws" | "lower" | "upper" | "trim" | "ltrim" | "rtrim"
                | "replace" | "substr" | "substring" | "lpad" | "rpad" | "left" | "right"
                | "string_agg" | "group_concat" => Some(Shape::Text),
                _ => None,
            }
        }
        _ => None,
    }
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

impl Walker {
    fn column(&mut self, r: ColumnRef) {
        if self.query_depth == 0 && self.aggregate_depth == 0 {
            self.facts.outside_aggregate.push(r.clone());
        }
        if r.qualifier.is_empty() {
            self.facts.unqualified_anywhere.push(r.column.clone());
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
        let volatile_before = self.facts.volatile.len();
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
        let reported = self.facts.volatile.len() > volatile_before
            || seeded_by_row
            || name == "any_value"
            || (name == "values" && qualified_once)
            || f.over.is_some();
        if !reported {
            self.called(&f.name);
        }
        if name == "values" && qualified_once {
            self.facts.values_calls.push(f.to_string());
        }
        // `max(a, b)` / `min(a, b)` are SQLite's scalar functions, not aggregates.
        let scalar_min_max = matches!(name.as_str(), "min" | "max") && n > 1;
        f.over.is_none() && crate::dialect::is_aggregate(&name) && !scalar_min_max
    }
}

impl Walker {
    /// Records a call of `name` that the dialect's allowlist does not hold. A built-in is
    /// called by its bare name (or, on PostgreSQL, through `pg_catalog`): a call qualified by any
    /// other schema is the user's own function.
    fn called(&mut self, name: &ObjectName) {
        let parts: Vec<String> = name_parts(name)
            .iter()
            .map(|p| p.to_ascii_lowercase())
            .collect();
        let allowed = match parts.as_slice() {
            [name] => allowlist::is_deterministic(self.engine, name),
            [schema, name] if self.engine == Engine::Postgres && schema == "pg_catalog" => {
                allowlist::is_deterministic(self.engine, name)
            }
            _ => false,
        };
        if !allowed {
            self.facts.unknown_functions.push(parts.join("."));
        }
    }
}

impl Visitor for Walker {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        self.query_depth += 1;
        self.facts.order_dependent.extend(pick_order(query));
        if let Some(with) = &query.with {
            let names = with
                .cte_tables
                .iter()
                .map(|cte| cte.alias.name.value.clone());
            self.facts.ctes.extend(names);
        }
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
        // A table function (`generate_series(1, 3)`, `LATERAL f(x)`): a call like any other.
        if let TableFactor::Table {
            name,
            args: Some(_),
            ..
        }
        | TableFactor::Function { name, .. } = factor
        {
            self.called(name);
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
            Expr::BinaryOp {
                op: op @ (BinaryOperator::PGCustomBinaryOperator(_) | BinaryOperator::Custom(_)),
                ..
            } => {
                // `OPERATOR(util.===)`: a user's operator calls a function of unknown volatility.
                self.facts.unknown_functions.push(op.to_string());
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
mod tests;
