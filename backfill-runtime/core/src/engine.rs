//! The engines a backfill runs on, their names, and identifier quoting.

use std::fmt;

/// A database engine the backfill can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Engine {
    /// PostgreSQL 12 or newer.
    Postgres,
    /// MySQL 8.0.19+ or MariaDB 10.5+ (the MySQL protocol).
    MySql,
    /// SQLite 3.25 or newer.
    Sqlite,
}

impl Engine {
    /// Every engine, in a fixed order (the order of per-engine arrays, see [`Engine::index`]).
    pub const ALL: [Engine; 3] = [Engine::Postgres, Engine::MySql, Engine::Sqlite];

    /// Position in [`Engine::ALL`], for per-engine arrays.
    pub fn index(self) -> usize {
        match self {
            Engine::Postgres => 0,
            Engine::MySql => 1,
            Engine::Sqlite => 2,
        }
    }

    /// Quotes one identifier for this engine, doubling the quote character inside it:
    /// backticks on MySQL/MariaDB, standard double quotes elsewhere.
    ///
    /// ```
    /// use backfill_core::Engine;
    ///
    /// assert_eq!(Engine::MySql.quote_ident("total; amount"), "`total; amount`");
    /// assert_eq!(Engine::Postgres.quote_ident(r#"user's "stats""#), r#""user's ""stats""""#);
    /// ```
    pub fn quote_ident(self, ident: &str) -> String {
        match self {
            Engine::MySql => format!("`{}`", ident.replace('`', "``")),
            Engine::Postgres | Engine::Sqlite => format!("\"{}\"", ident.replace('"', "\"\"")),
        }
    }

    /// Quotes a table name as written in an attribute, each dot-separated part on its own:
    /// `analytics.user_stats` -> `"analytics"."user_stats"`.
    ///
    /// ```
    /// use backfill_core::Engine;
    ///
    /// assert_eq!(Engine::MySql.quote_table("app.user_stats"), "`app`.`user_stats`");
    /// assert_eq!(Engine::Sqlite.quote_table("user_stats"), r#""user_stats""#);
    /// ```
    pub fn quote_table(self, table: &str) -> String {
        table
            .split('.')
            .map(|part| self.quote_ident(part.trim()))
            .collect::<Vec<_>>()
            .join(".")
    }

    /// The engine's lowercase name as used in attributes, features and on the command line
    /// (`postgres`, `mysql`, `sqlite`).
    pub fn name(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::MySql => "mysql",
            Engine::Sqlite => "sqlite",
        }
    }

    /// The engine's name for people (`PostgreSQL`, `MySQL/MariaDB`, `SQLite`).
    pub fn display_name(self) -> &'static str {
        match self {
            Engine::Postgres => "PostgreSQL",
            Engine::MySql => "MySQL/MariaDB",
            Engine::Sqlite => "SQLite",
        }
    }

    /// Parses `postgres`/`postgresql`/`pg`, `mysql`/`mariadb` or `sqlite`, in any case.
    ///
    /// ```
    /// use backfill_core::Engine;
    ///
    /// assert_eq!(Engine::parse("MariaDB"), Some(Engine::MySql));
    /// assert_eq!(Engine::parse("oracle"), None);
    /// ```
    pub fn parse(name: &str) -> Option<Engine> {
        match name.trim().to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" | "pg" => Some(Engine::Postgres),
            "mysql" | "mariadb" => Some(Engine::MySql),
            "sqlite" => Some(Engine::Sqlite),
            _ => None,
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display_name())
    }
}

#[cfg(test)]
mod tests {
    use super::Engine;

    #[test]
    fn identifiers_are_quoted_per_engine_with_the_quote_doubled() {
        assert_eq!(Engine::Postgres.quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(Engine::MySql.quote_ident("a`b"), "`a``b`");
        assert_eq!(
            Engine::Sqlite.quote_table("s.UserStats"),
            "\"s\".\"UserStats\""
        );
        assert_eq!(Engine::MySql.quote_table("s.t"), "`s`.`t`");
    }

    #[test]
    fn index_is_the_position_in_all() {
        for (i, engine) in Engine::ALL.iter().enumerate() {
            assert_eq!(engine.index(), i);
            assert_eq!(Engine::parse(engine.name()), Some(*engine));
        }
    }
}
