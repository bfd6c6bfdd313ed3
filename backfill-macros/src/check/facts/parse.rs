//! Text to sqlparser's AST in the engine's dialect, with the token checks sqlparser skips.

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
pub(super) fn tokens_ok(dialect: &dyn Dialect, text: &str) -> Result<(), String> {
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

pub(super) fn expect_end(parser: &mut Parser, what: &str) -> Result<(), String> {
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
