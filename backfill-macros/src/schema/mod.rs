//! The service's schema, as its migrations leave it: read at compile time from the migrations
//! directory ([`load`]), replayed statement by statement with sqlparser in each engine's dialect
//! ([`replay`]), and handed to the schema rules of `check`. No database, no network.
//!
//! Names are compared case-insensitively (unquoted names fold on PostgreSQL, MySQL's column names
//! are case-insensitive), and a table is found by its last name part unless the reference names a
//! schema.

mod load;
mod replay;

pub use load::{load, take_read_files, Loaded};

/// One column as the migrations leave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// As written in the migration.
    pub name: String,
    /// The type as written, uppercase (`BIGINT`, `VARCHAR(255)`, `TIMESTAMP WITH TIME ZONE`).
    pub data_type: String,
    /// `NOT NULL` (or part of the primary key).
    pub not_null: bool,
    /// A DEFAULT, an identity or generated value, `AUTO_INCREMENT`, a serial type: a row can be
    /// inserted without it.
    pub has_default: bool,
}

/// A PRIMARY KEY or UNIQUE constraint or index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UniqueKey {
    /// The index or constraint name, when the migration gave one.
    pub name: Option<String>,
    /// Its columns, in order; empty when it is on an expression (`lower(email)`).
    pub columns: Vec<String>,
    /// The primary key.
    pub primary: bool,
}

/// One table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Its name parts as written (`["analytics", "user_stats"]`).
    pub name: Vec<String>,
    /// Columns in order.
    pub columns: Vec<Column>,
    /// Primary key and unique constraints and indexes.
    pub unique_keys: Vec<UniqueKey>,
}

impl Table {
    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    fn column_mut(&mut self, name: &str) -> Option<&mut Column> {
        self.columns
            .iter_mut()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// The table's name as written, dot-joined.
    pub fn display(&self) -> String {
        self.name.join(".")
    }
}

/// Every table the migrations create, for one engine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schema {
    /// In creation order.
    pub tables: Vec<Table>,
    /// Statements a `-- backfill: skip` comment left out, as `file:line`.
    pub skipped: Vec<String>,
    /// The directory it was replayed from, as shown (`migrations`, `migrations/mysql`).
    pub source: String,
}

impl Schema {
    /// The table `parts` names: `schema.name` exactly, or a bare `name` in any schema (the
    /// search path decides at run time; the first one created wins here).
    pub fn table(&self, parts: &[String]) -> Option<&Table> {
        self.tables.iter().find(|t| same_name(&t.name, parts))
    }

    fn table_index(&self, parts: &[String]) -> Option<usize> {
        self.tables.iter().position(|t| same_name(&t.name, parts))
    }

    /// Table names, for a did-you-mean.
    pub fn table_names(&self) -> Vec<String> {
        self.tables.iter().map(Table::display).collect()
    }
}

/// `a.b` matches `a.b` and `b`; `b` matches `x.b`: a name without a schema is resolved by the
/// search path, which the migrations do not say.
fn same_name(table: &[String], reference: &[String]) -> bool {
    let last = |p: &[String]| p.last().map(|s| s.to_ascii_lowercase());
    if last(table) != last(reference) {
        return false;
    }
    match (table.len(), reference.len()) {
        (a, b) if a >= 2 && b >= 2 => table[a - 2].eq_ignore_ascii_case(&reference[b - 2]),
        _ => true,
    }
}

/// The closest of `candidates` to `name` (edit distance at most a third of its length), for a
/// did-you-mean.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let name = name.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            (
                crate::attr::edit_distance(&name, &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(d, _)| *d > 0 && *d <= name.len().max(3) / 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests;
