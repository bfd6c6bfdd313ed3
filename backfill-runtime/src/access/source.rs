//! The batch's source read, found in the generated upsert of a range: the `SELECT` that
//! recomputes the range (the upsert's own `SELECT` on PostgreSQL and SQLite, the derived table
//! `n` on MySQL), its tables, the expressions the ranges filter on, and every column it names.
//!
//! The derive emits the statements, not the list of source columns a mapping reads, so the
//! runtime reads them back from the statement it runs. The statement is the derive's own
//! rendering (sqlparser's canonical SQL: identifiers, quoted or not, string literals, `$n` or
//! `?` placeholders), so a small lexer is enough: no expression is evaluated or rewritten, and a
//! word is only taken for a column when the source table's catalog has a column of that name.

use crate::definition::Engine;

/// One token of a statement, with the byte span it came from.
#[derive(Debug, Clone, PartialEq)]
struct Token {
    kind: Kind,
    /// Byte offset of the token's first character.
    at: usize,
    /// Byte offset just past the token.
    end: usize,
    /// Parenthesis depth: a `(` and its `)` have the depth outside them.
    depth: usize,
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    /// An unquoted word: a keyword, function or identifier, as written.
    Word(String),
    /// A quoted identifier, unescaped.
    Quoted(String),
    /// A string literal (skipped).
    Literal,
    /// A number.
    Number,
    /// A placeholder: `$n` (with its number) or `?`.
    Placeholder(Option<usize>),
    /// Any other punctuation, one or two characters (`(`, `.`, `::`, `<=`).
    Punct(String),
}

impl Token {
    fn word(&self, keyword: &str) -> bool {
        matches!(&self.kind, Kind::Word(w) if w.eq_ignore_ascii_case(keyword))
    }

    fn punct(&self, p: &str) -> bool {
        matches!(&self.kind, Kind::Punct(q) if q == p)
    }

    /// An identifier as the engine folds it: PostgreSQL folds unquoted names to lower case.
    fn ident(&self, engine: Engine) -> Option<Ident> {
        match &self.kind {
            Kind::Word(w) => Some(Ident {
                name: if engine == Engine::Postgres {
                    w.to_lowercase()
                } else {
                    w.clone()
                },
            }),
            Kind::Quoted(q) => Some(Ident { name: q.clone() }),
            _ => None,
        }
    }
}

/// A name in the statement, folded as its engine folds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ident {
    /// The name.
    pub name: String,
}

/// Splits `sql` into tokens. Strings and quoted identifiers follow the engine's rules: on
/// MySQL `"..."` is a string and backslash escapes inside strings; elsewhere `"..."` names.
fn lex(sql: &str, engine: Engine) -> Vec<Token> {
    let bytes = sql.as_bytes();
    let mut tokens = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let kind = match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i = (i + 2).min(bytes.len());
                continue;
            }
            b'\'' => {
                i = quoted_end(bytes, i, b'\'', engine == Engine::MySql);
                Kind::Literal
            }
            b'"' if engine == Engine::MySql => {
                i = quoted_end(bytes, i, b'"', true);
                Kind::Literal
            }
            b'"' | b'`' => {
                i = quoted_end(bytes, i, c, false);
                let inner = &sql[start + 1..i.saturating_sub(1).max(start + 1)];
                let q = char::from(c).to_string();
                Kind::Quoted(inner.replace(&format!("{q}{q}"), &q))
            }
            b'$' if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                i += 1;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                Kind::Placeholder(sql[start + 1..i].parse().ok())
            }
            b'?' => {
                i += 1;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                Kind::Placeholder(None)
            }
            c if c.is_ascii_digit() => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                    i += 1;
                }
                Kind::Number
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric()
                        || bytes[i] == b'_'
                        || bytes[i] == b'$'
                        || bytes[i] >= 0x80)
                {
                    i += 1;
                }
                Kind::Word(sql[start..i].to_string())
            }
            _ => {
                let two = sql.get(i..i + 2).unwrap_or("");
                let len = if matches!(two, "::" | "<=" | ">=" | "<>" | "!=" | "||") {
                    2
                } else {
                    1
                };
                i += len;
                Kind::Punct(sql[start..i].to_string())
            }
        };
        let token_depth = match &kind {
            Kind::Punct(p) if p == ")" => {
                depth = depth.saturating_sub(1);
                depth
            }
            _ => depth,
        };
        if matches!(&kind, Kind::Punct(p) if p == "(") {
            depth += 1;
        }
        tokens.push(Token {
            kind,
            at: start,
            end: i,
            depth: token_depth,
        });
    }
    tokens
}

/// The index just past a quoted run starting at `start` (doubled quotes inside; a backslash
/// escapes the next character when `backslash`).
fn quoted_end(bytes: &[u8], start: usize, quote: u8, backslash: bool) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        if backslash && bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

/// A table named in the source's FROM clause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableRef {
    /// Its schema, if qualified.
    pub schema: Option<Ident>,
    /// Its name.
    pub name: Ident,
    /// Its alias, if any.
    pub alias: Option<Ident>,
    /// Byte offset in the statement just past the reference (its alias, else its name): where
    /// an index hint would go.
    pub end: usize,
    /// Whether an index hint (MySQL's `USE`, `FORCE` or `IGNORE INDEX`) follows it already.
    pub hinted: bool,
}

impl TableRef {
    /// The name its columns are qualified with: the alias, or the table's own name.
    fn qualifier(&self) -> &Ident {
        self.alias.as_ref().unwrap_or(&self.name)
    }
}

/// A column named in the read: `q.c` or a bare `c`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ColumnRef {
    /// The qualifier, if any.
    pub qualifier: Option<Ident>,
    /// The column.
    pub column: Ident,
}

/// The source read of one range, as found in the upsert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SourceRead {
    /// The `SELECT` that recomputes the range: read-only, with the upsert's placeholders.
    pub sql: String,
    /// How many values it binds: the highest `$n`, or the number of `?`.
    pub placeholders: usize,
    /// The tables of its FROM clause, in order (a subquery in it is left out).
    pub tables: Vec<TableRef>,
    /// The expressions the ranges filter on, one per key part, as written; with the column
    /// when the expression is a plain column.
    pub key: Vec<(String, Option<ColumnRef>)>,
    /// Every column named in the read, in order of first appearance, repeats left out.
    pub columns: Vec<ColumnRef>,
}

impl SourceRead {
    /// The table the ranges read, the one the first key part's column belongs to (its
    /// qualifier), or the only table of the FROM clause.
    pub(crate) fn source_table(&self) -> Option<&TableRef> {
        match self.key.first().and_then(|(_, c)| c.as_ref()) {
            Some(ColumnRef {
                qualifier: Some(q), ..
            }) => self.tables.iter().find(|t| same(t.qualifier(), q)),
            _ if self.tables.len() == 1 => self.tables.first(),
            _ => None,
        }
    }

    /// Whether `column` may name a column of `table`: qualified by its qualifier, or bare when
    /// the column exists in it (`exists`).
    pub(crate) fn names_column_of(
        &self,
        column: &ColumnRef,
        table: &TableRef,
        exists: impl Fn(&str) -> bool,
    ) -> bool {
        match &column.qualifier {
            Some(q) => same(q, table.qualifier()) && exists(&column.column.name),
            None => exists(&column.column.name),
        }
    }
}

/// Names compare ignoring ASCII case: qualifiers and aliases do on MySQL and SQLite, and
/// PostgreSQL's unquoted names were folded already.
fn same(a: &Ident, b: &Ident) -> bool {
    a.name.eq_ignore_ascii_case(&b.name)
}

/// Words that end a table reference in a FROM clause (never an alias).
const FROM_STOP: &[&str] = &[
    "JOIN",
    "INNER",
    "LEFT",
    "RIGHT",
    "FULL",
    "CROSS",
    "NATURAL",
    "OUTER",
    "ON",
    "USING",
    "WHERE",
    "GROUP",
    "HAVING",
    "ORDER",
    "LIMIT",
    "WINDOW",
    "STRAIGHT_JOIN",
    "LATERAL",
    "UNION",
    "USE",
    "FORCE",
    "IGNORE",
];

/// The words that start a MySQL index hint after a table reference.
const INDEX_HINTS: &[&str] = &["USE", "FORCE", "IGNORE"];

/// Finds the range's source read in the upsert `sql` of `engine`; `None` when the statement
/// has no recomputing `SELECT` (an in-place update of the target's own rows).
pub(crate) fn source_read(sql: &str, engine: Engine) -> Option<SourceRead> {
    let tokens = lex(sql, engine);
    let mut start = tokens.iter().position(|t| t.word("SELECT"))?;
    // MySQL reads the recompute as a derived table: `SELECT n.cols FROM (SELECT ...) AS n`.
    loop {
        let depth = tokens[start].depth;
        let from = (start + 1..tokens.len())
            .take_while(|&i| tokens[i].depth >= depth)
            .find(|&i| tokens[i].depth == depth && tokens[i].word("FROM"))?;
        match (tokens.get(from + 1), tokens.get(from + 2)) {
            (Some(open), Some(select)) if open.punct("(") && select.word("SELECT") => {
                start = from + 2;
            }
            _ => break,
        }
    }
    let depth = tokens[start].depth;
    let end = (start + 1..tokens.len())
        .find(|&i| {
            let t = &tokens[i];
            t.depth < depth
                || (t.depth == depth
                    && t.word("ON")
                    && tokens
                        .get(i + 1)
                        .is_some_and(|n| n.word("CONFLICT") || n.word("DUPLICATE")))
        })
        .unwrap_or(tokens.len());
    let read = &tokens[start..end];
    let text_end = read.last().map_or(tokens[start].end, |t| t.end);
    let sql_text = sql[tokens[start].at..text_end].to_string();

    let clause = |word: &str| {
        read.iter()
            .position(|t| t.depth == depth && t.word(word))
            .map(|i| i + 1)
    };
    let from_at = clause("FROM")?;
    let from_end = (from_at..read.len())
        .find(|&i| {
            read[i].depth == depth
                && [
                    "WHERE", "GROUP", "HAVING", "ORDER", "LIMIT", "WINDOW", "UNION",
                ]
                .iter()
                .any(|w| read[i].word(w))
        })
        .unwrap_or(read.len());
    let (tables, table_tokens) = from_tables(&read[from_at..from_end], depth, engine);
    let table_tokens: Vec<usize> = table_tokens.into_iter().map(|i| i + from_at).collect();

    let key = clause("WHERE")
        .and_then(|w| {
            let end = (w..read.len())
                .find(|&i| {
                    read[i].depth == depth
                        && ["GROUP", "HAVING", "ORDER", "LIMIT", "WINDOW", "UNION"]
                            .iter()
                            .any(|k| read[i].word(k))
                })
                .unwrap_or(read.len());
            let clause = &read[w..end];
            not_null_keys(clause, depth, sql, engine)
                .or_else(|| range_key(clause, depth, sql, engine))
        })
        .unwrap_or_default();
    let columns = column_refs(read, &table_tokens, engine);

    Some(SourceRead {
        sql: sql_text,
        placeholders: placeholders(read),
        tables,
        key,
        columns,
    })
}

/// How many values `tokens` bind: the highest `$n`, or the number of `?`.
fn placeholders(tokens: &[Token]) -> usize {
    let numbered = tokens
        .iter()
        .filter_map(|t| match t.kind {
            Kind::Placeholder(n) => n,
            _ => None,
        })
        .max();
    numbered.unwrap_or_else(|| {
        tokens
            .iter()
            .filter(|t| matches!(t.kind, Kind::Placeholder(None)))
            .count()
    })
}

/// The tables of a FROM clause at `depth`, and the indexes of the tokens that name them (not
/// columns).
fn from_tables(from: &[Token], depth: usize, engine: Engine) -> (Vec<TableRef>, Vec<usize>) {
    let mut tables = Vec::new();
    let mut names = Vec::new();
    let mut i = 0;
    let mut expect_table = true;
    while i < from.len() {
        let t = &from[i];
        if t.depth != depth {
            i += 1;
            continue;
        }
        if t.word("JOIN") || t.punct(",") {
            expect_table = true;
            i += 1;
            continue;
        }
        if !expect_table {
            i += 1;
            continue;
        }
        expect_table = false;
        let Some(first) = t.ident(engine) else {
            // A subquery or a parenthesized join: not a table of its own.
            i += 1;
            continue;
        };
        names.push(i);
        let mut j = i + 1;
        let (schema, name) = if from.get(j).is_some_and(|d| d.punct("."))
            && from.get(j + 1).and_then(|n| n.ident(engine)).is_some()
        {
            names.extend([j, j + 1]);
            j += 2;
            (
                Some(first),
                from[j - 1].ident(engine).unwrap_or(Ident {
                    name: String::new(),
                }),
            )
        } else {
            (None, first)
        };
        if from.get(j).is_some_and(|a| a.word("AS")) {
            names.push(j);
            j += 1;
        }
        let alias = from.get(j).and_then(|a| {
            let is_stop = FROM_STOP.iter().any(|w| a.word(w));
            (!is_stop && a.depth == depth)
                .then(|| a.ident(engine))
                .flatten()
        });
        if alias.is_some() {
            names.push(j);
            j += 1;
        }
        tables.push(TableRef {
            schema,
            name,
            alias,
            end: from[j - 1].end,
            hinted: from
                .get(j)
                .is_some_and(|h| INDEX_HINTS.iter().any(|w| h.word(w))),
        });
        i = j;
    }
    (tables, names)
}

/// The key expressions of the WHERE clause `clause` at `depth`: the derive writes it as
/// `(filter) AND k1 IS NOT NULL AND k2 IS NOT NULL AND <range>`, the filter in parentheses, so
/// the conjuncts `... IS NOT NULL` at the clause's own depth are the key parts, in order (the
/// range itself is a row comparison on PostgreSQL and SQLite but expanded into ORs on MySQL).
fn not_null_keys(
    clause: &[Token],
    depth: usize,
    sql: &str,
    engine: Engine,
) -> Option<Vec<(String, Option<ColumnRef>)>> {
    let keys: Vec<(String, Option<ColumnRef>)> = clause
        .split(|t| t.depth == depth && t.word("AND"))
        .filter_map(|conjunct| match conjunct {
            [expr @ .., is, not, null]
                if !expr.is_empty() && is.word("IS") && not.word("NOT") && null.word("NULL") =>
            {
                Some(key_part(expr, sql, engine))
            }
            _ => None,
        })
        .collect();
    (!keys.is_empty()).then_some(keys)
}

/// A key expression as written, with its column when it is a plain (qualified) column.
fn key_part(p: &[Token], sql: &str, engine: Engine) -> (String, Option<ColumnRef>) {
    let text = sql[p[0].at..p[p.len() - 1].end].to_string();
    let column = match p {
        [c] => c.ident(engine).map(|column| ColumnRef {
            qualifier: None,
            column,
        }),
        [q, dot, c] if dot.punct(".") => {
            q.ident(engine)
                .zip(c.ident(engine))
                .map(|(q, column)| ColumnRef {
                    qualifier: Some(q),
                    column,
                })
        }
        _ => None,
    };
    (text, column)
}

/// The expressions of the range's upper bound: the operand before the last `<=` that compares
/// with placeholders (`k <= $1`, `(a, b) <= ($1, $2)`), which the derive appends to the WHERE
/// clause for every key part.
fn range_key(
    clause: &[Token],
    depth: usize,
    sql: &str,
    engine: Engine,
) -> Option<Vec<(String, Option<ColumnRef>)>> {
    let le = (0..clause.len()).rev().find(|&i| {
        clause[i].depth == depth
            && clause[i].punct("<=")
            && clause.get(i + 1).is_some_and(|n| {
                matches!(n.kind, Kind::Placeholder(_))
                    || (n.punct("(")
                        && clause
                            .get(i + 2)
                            .is_some_and(|p| matches!(p.kind, Kind::Placeholder(_))))
            })
    })?;
    // A row comparison `(a, b) <= ($1, $2)` for a composite key; else one expression.
    let row = clause.get(le + 1).is_some_and(|n| n.punct("("));
    let parts: Vec<&[Token]> = if row && le > 0 && clause[le - 1].punct(")") {
        let close = le - 1;
        let open = (0..close)
            .rev()
            .find(|&i| clause[i].depth == depth && clause[i].punct("("))?;
        clause[open + 1..close]
            .split(|t| t.depth == depth + 1 && t.punct(","))
            .collect()
    } else {
        let begin = (0..le)
            .rev()
            .find(|&i| clause[i].depth == depth && clause[i].word("AND"))
            .map_or(0, |i| i + 1);
        vec![&clause[begin..le]]
    };
    Some(
        parts
            .into_iter()
            .filter(|p| !p.is_empty())
            .map(|p| key_part(p, sql, engine))
            .collect(),
    )
}

/// Unquoted words that are never a column (a column of that name must be quoted).
const KEYWORDS: &[&str] = &[
    "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IS", "NULL", "GROUP", "BY", "ORDER", "AS",
    "ON", "JOIN", "INNER", "LEFT", "RIGHT", "OUTER", "CROSS", "FULL", "USING", "CASE", "WHEN",
    "THEN", "ELSE", "END", "IN", "BETWEEN", "LIKE", "ILIKE", "TRUE", "FALSE", "DISTINCT", "HAVING",
    "LIMIT", "OFFSET", "ASC", "DESC", "INTERVAL", "COLLATE", "EXISTS", "ALL", "ANY", "ESCAPE",
    "SIMILAR", "FILTER", "OVER", "DIV", "MOD",
];

/// Every `q.c` and bare `c` of the read that may be a column: not a keyword, not a function's
/// name, not an alias or type after `AS`/`::`, not a table of the FROM clause (`table_tokens`).
fn column_refs(read: &[Token], table_tokens: &[usize], engine: Engine) -> Vec<ColumnRef> {
    let mut out: Vec<ColumnRef> = Vec::new();
    let mut i = 0;
    while i < read.len() {
        let t = &read[i];
        let Some(ident) = t.ident(engine) else {
            i += 1;
            continue;
        };
        let after = |k: usize| read.get(i + k);
        let before = i.checked_sub(1).map(|b| &read[b]);
        let keyword =
            matches!(&t.kind, Kind::Word(w) if KEYWORDS.iter().any(|k| w.eq_ignore_ascii_case(k)));
        if keyword
            || table_tokens.contains(&i)
            || before.is_some_and(|b| b.word("AS") || b.punct("::") || b.punct("."))
            || after(1).is_some_and(|n| n.punct("("))
        {
            i += 1;
            continue;
        }
        let found = if after(1).is_some_and(|d| d.punct(".")) {
            match after(2).and_then(|c| c.ident(engine)) {
                // `schema.function(...)` is a call, `a.b.c` a column of a qualified table.
                Some(_) if after(3).is_some_and(|n| n.punct("(")) => None,
                Some(_) if after(3).is_some_and(|n| n.punct(".")) => {
                    let column = after(4).and_then(|c| c.ident(engine));
                    let qualifier = after(2).and_then(|q| q.ident(engine));
                    i += 4;
                    column.map(|column| ColumnRef { qualifier, column })
                }
                Some(column) => {
                    i += 2;
                    Some(ColumnRef {
                        qualifier: Some(ident),
                        column,
                    })
                }
                None => None,
            }
        } else {
            Some(ColumnRef {
                qualifier: None,
                column: ident,
            })
        };
        if let Some(found) = found {
            if !out.contains(&found) {
                out.push(found);
            }
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(read: &SourceRead) -> Vec<String> {
        read.columns
            .iter()
            .map(|c| match &c.qualifier {
                Some(q) => format!("{}.{}", q.name, c.column.name),
                None => c.column.name.clone(),
            })
            .collect()
    }

    #[test]
    fn the_postgres_upsert_reads_its_own_select() {
        let sql = "INSERT INTO \"user_stats\" AS \"__t\" (\"user_id\", \"event_count\") SELECT e.user_id, count(*), max(e.created_at) FROM events e WHERE (e.kind <> 'test') AND e.user_id IS NOT NULL AND e.user_id <= $1 GROUP BY e.user_id ON CONFLICT (\"user_id\") DO UPDATE SET \"event_count\" = EXCLUDED.\"event_count\"";
        let read = source_read(sql, Engine::Postgres).unwrap();
        assert_eq!(
            read.sql,
            "SELECT e.user_id, count(*), max(e.created_at) FROM events e WHERE (e.kind <> 'test') AND e.user_id IS NOT NULL AND e.user_id <= $1 GROUP BY e.user_id"
        );
        assert_eq!(read.placeholders, 1);
        assert_eq!(read.tables.len(), 1);
        assert_eq!(read.tables[0].name.name, "events");
        assert_eq!(read.tables[0].alias.as_ref().unwrap().name, "e");
        assert_eq!(read.key.len(), 1);
        assert_eq!(read.key[0].0, "e.user_id");
        assert_eq!(names(&read), ["e.user_id", "e.created_at", "e.kind"]);
        assert_eq!(read.source_table().unwrap().name.name, "events");
    }

    #[test]
    fn the_mysql_upsert_reads_its_derived_table() {
        let sql = "INSERT INTO `archive`.`items` (`id`, `name`) SELECT `n`.`id`, `n`.`name` FROM (SELECT `id` AS `id`, `name` AS `name` FROM items WHERE `id` IS NOT NULL AND `id` > ? AND `id` <= ?) AS `n` ON DUPLICATE KEY UPDATE `name` = `n`.`name`";
        let read = source_read(sql, Engine::MySql).unwrap();
        assert_eq!(
            read.sql,
            "SELECT `id` AS `id`, `name` AS `name` FROM items WHERE `id` IS NOT NULL AND `id` > ? AND `id` <= ?"
        );
        assert_eq!(read.placeholders, 2);
        assert_eq!(read.key[0].0, "`id`");
        assert_eq!(names(&read), ["id", "name"]);
        assert_eq!(read.source_table().unwrap().name.name, "items");
    }

    #[test]
    fn composite_keys_joins_and_literals() {
        let sql = "INSERT INTO \"r\" AS \"__t\" (\"region\", \"day\", \"revenue\") SELECT s.region, o.day, sum(o.amount) FROM orders AS o JOIN public.shops s ON s.id = o.shop_id WHERE (o.note <> 'x.y, z <= $9') AND s.region IS NOT NULL AND o.day IS NOT NULL AND (s.region, o.day) <= ($1, $2) GROUP BY s.region, o.day ON CONFLICT (\"region\", \"day\") DO NOTHING";
        let read = source_read(sql, Engine::Postgres).unwrap();
        assert_eq!(read.placeholders, 2);
        let tables: Vec<(Option<String>, String, Option<String>)> = read
            .tables
            .iter()
            .map(|t| {
                (
                    t.schema.as_ref().map(|s| s.name.clone()),
                    t.name.name.clone(),
                    t.alias.as_ref().map(|a| a.name.clone()),
                )
            })
            .collect();
        assert_eq!(
            tables,
            [
                (None, "orders".to_string(), Some("o".to_string())),
                (
                    Some("public".to_string()),
                    "shops".to_string(),
                    Some("s".to_string())
                ),
            ]
        );
        let key: Vec<&str> = read.key.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(key, ["s.region", "o.day"]);
        assert_eq!(read.source_table().unwrap().name.name, "shops");
        assert_eq!(
            names(&read),
            [
                "s.region",
                "o.day",
                "o.amount",
                "s.id",
                "o.shop_id",
                "o.note"
            ]
        );
    }

    #[test]
    fn a_mysql_composite_range_is_expanded_but_its_keys_are_not_null() {
        let sql = "INSERT INTO `t` (`tenant_id`, `user_id`, `total`) SELECT `n`.`tenant_id`, `n`.`user_id`, `n`.`total` FROM (SELECT e.tenant_id AS `tenant_id`, e.user_id AS `user_id`, sum(e.amount) AS `total` FROM events e WHERE (e.amount IS NOT NULL) AND e.tenant_id IS NOT NULL AND e.user_id IS NOT NULL AND (e.tenant_id < ? OR (e.tenant_id = ? AND e.user_id <= ?)) GROUP BY e.tenant_id, e.user_id) AS `n` ON DUPLICATE KEY UPDATE `total` = `n`.`total`";
        let read = source_read(sql, Engine::MySql).unwrap();
        let key: Vec<&str> = read.key.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(key, ["e.tenant_id", "e.user_id"]);
        assert!(read.key.iter().all(|(_, c)| c.is_some()));
        assert_eq!(read.placeholders, 3);
    }

    #[test]
    fn sqlite_and_casts_and_expressions_as_keys() {
        let sql = "INSERT INTO \"t\" AS \"__t\" (\"k\", \"v\") SELECT lower(email), CAST(total AS INTEGER) FROM \"Users\" WHERE lower(email) IS NOT NULL AND lower(email) <= ? ON CONFLICT (\"k\") DO UPDATE SET \"v\" = excluded.\"v\"";
        let read = source_read(sql, Engine::Sqlite).unwrap();
        assert_eq!(read.key, vec![("lower(email)".to_string(), None)]);
        assert_eq!(read.tables[0].name.name, "Users");
        assert_eq!(names(&read), ["email", "total"]);
        assert_eq!(read.source_table().unwrap().name.name, "Users");
    }

    #[test]
    fn an_update_of_own_rows_has_no_source_read() {
        let sql = "UPDATE \"people\" SET \"full_name\" = (first_name || ' ' || last_name) WHERE \"id\" <= ?";
        assert_eq!(source_read(sql, Engine::Sqlite), None);
    }

    #[test]
    fn postgres_folds_unquoted_names() {
        let sql = "INSERT INTO \"t\" AS \"__t\" (\"k\") SELECT E.User_Id::text FROM Events E WHERE E.User_Id <= $1 ON CONFLICT (\"k\") DO NOTHING";
        let read = source_read(sql, Engine::Postgres).unwrap();
        assert_eq!(names(&read), ["e.user_id"]);
        assert_eq!(read.tables[0].name.name, "events");
    }
}
