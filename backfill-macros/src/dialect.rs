//! Each engine's SQL dialect, beneath every stage that reads the user's SQL (the rules, the
//! migrations' replay, the scan's decomposition): text to sqlparser's AST with the token checks
//! sqlparser skips, and the names of the engines' aggregate functions.

use sqlparser::ast::{Expr, TableWithJoins};
use sqlparser::dialect::{Dialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer, Whitespace};

use crate::model::Engine;

/// The sqlparser dialect of an engine.
pub(crate) fn dialect(engine: Engine) -> Box<dyn Dialect> {
    match engine {
        Engine::Postgres => Box::new(PostgreSqlDialect {}),
        Engine::MySql => Box::new(MySqlDialect {}),
        Engine::Sqlite => Box::new(SQLiteDialect {}),
    }
}

/// Refuses what would break the generated statement around the fragment: a `--`/`#` comment
/// (it would comment out the rest of the line) and a placeholder (values are bound by the
/// runtime, in its own order).
pub(crate) fn tokens_ok(dialect: &dyn Dialect, text: &str) -> Result<(), String> {
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

pub(crate) fn expect_end(parser: &mut Parser, what: &str) -> Result<(), String> {
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

/// Aggregate functions of the three engines (lowercase).
pub(crate) const AGGREGATES: &[&str] = &[
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

/// Whether `name` (lowercase, unqualified) is an aggregate function of one of the engines.
pub(crate) fn is_aggregate(name: &str) -> bool {
    AGGREGATES.contains(&name)
}
