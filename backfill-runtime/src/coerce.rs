//! Fills the holes of a statement ([`Hole`]): the places where a recomputed value is compared
//! with a stored one after the coercion the column applies on INSERT (an `avg(x)` rounded into
//! `numeric(12,2)`, text converted to a latin1 column's character set). The derive cannot know
//! the column's type; the runtime reads it from the catalog once per run and writes the cast
//! with [`Driver::coerce`]. Only catalog output is written into the SQL, never a value.

// `Error` is the crate's one public error type, large because its variants name tables,
// columns and ranges; it is returned rarely, so it is not boxed.
#![allow(clippy::result_large_err)]
// Parts serve only some engines; a build with fewer engine features leaves them unused.
#![cfg_attr(
    not(all(feature = "postgres", feature = "mysql", feature = "sqlite")),
    allow(dead_code)
)]

use crate::definition::{Definition, Hole, Ranged, Stmt};
use crate::engine::{CatalogColumn, Conn, Driver, TableName};
use crate::error::Error;

/// A statement with its holes filled: its SQL and what it binds.
#[derive(Debug, Clone)]
pub(crate) struct Filled {
    /// The SQL, ready to prepare.
    pub sql: String,
    /// The statement it was filled from (its params).
    pub stmt: &'static Stmt,
}

/// The first-range and next-range variants, filled.
#[derive(Debug, Clone)]
pub(crate) struct FilledRanged {
    /// No lower bound.
    pub first: Filled,
    /// `key > cursor`.
    pub next: Filled,
}

impl FilledRanged {
    /// The variant for a range starting after `lo` (or at the first key).
    pub(crate) fn pick(&self, lo: Option<&crate::value::Key>) -> &Filled {
        match lo {
            Some(_) => &self.next,
            None => &self.first,
        }
    }
}

/// Reads the target's column types (only when `stmts` has holes) and fills `ranged`.
pub(crate) async fn fill_ranged<D: Driver>(
    conn: &mut Conn<D>,
    def: &'static Definition,
    ranged: &'static Ranged,
) -> Result<FilledRanged, Error> {
    let columns = if ranged.first.holes.is_empty() && ranged.next.holes.is_empty() {
        Vec::new()
    } else {
        target_column_types::<D>(conn, def).await?
    };
    Ok(FilledRanged {
        first: fill::<D>(def, &ranged.first, &columns)?,
        next: fill::<D>(def, &ranged.next, &columns)?,
    })
}

/// The target's columns from the catalog, with their types (none when it does not exist).
pub(crate) async fn target_column_types<D: Driver>(
    conn: &mut Conn<D>,
    def: &'static Definition,
) -> Result<Vec<CatalogColumn>, Error> {
    let table = TableName::parse(def.table)?;
    let shape = D::table_shape(conn, &table).await.map_err(|e| {
        Error::database(
            format!("reading the column types of {} on {}", def.table, D::ENGINE),
            e.source,
        )
    })?;
    Ok(shape.map(|shape| shape.columns).unwrap_or_default())
}

/// `stmt` with every hole replaced by its expression coerced to its column's type.
pub(crate) fn fill<D: Driver>(
    def: &'static Definition,
    stmt: &'static Stmt,
    columns: &[CatalogColumn],
) -> Result<Filled, Error> {
    let mut sql = String::with_capacity(stmt.sql.len() + 32 * stmt.holes.len());
    let mut at = 0;
    for hole in stmt.holes {
        let Hole {
            at: start,
            len,
            column,
            expr,
        } = *hole;
        let target = def.columns.get(column).ok_or_else(|| Error::Definition {
            name: def.name.to_string(),
            problem: format!("a statement coerces column #{column}, which the definition lacks"),
        })?;
        let ty = columns
            .iter()
            .find(|c| c.name == target.column)
            .or_else(|| {
                columns
                    .iter()
                    .find(|c| c.name.eq_ignore_ascii_case(target.column))
            })
            .ok_or_else(|| Error::MissingColumn {
                table: def.table.to_string(),
                column: target.column.to_string(),
                field: target.field.to_string(),
            })?;
        let (Some(before), Some(_)) = (stmt.sql.get(at..start), stmt.sql.get(start..start + len))
        else {
            return Err(Error::Definition {
                name: def.name.to_string(),
                problem: "a statement's hole lies outside its SQL".to_string(),
            });
        };
        sql.push_str(before);
        sql.push_str(&D::coerce(expr, ty));
        at = start + len;
    }
    sql.push_str(stmt.sql.get(at..).unwrap_or_default());
    Ok(Filled { sql, stmt })
}

/// [`BackfillPool::executable_sql`](crate::pool::BackfillPool::executable_sql) on any engine.
pub(crate) async fn executable_sql<D: Driver>(
    pool: &sqlx::Pool<D::Db>,
    def: &'static Definition,
    stmt: &'static Stmt,
) -> Result<String, Error> {
    if stmt.holes.is_empty() {
        return Ok(stmt.sql.to_string());
    }
    let mut conn = pool.acquire().await.map_err(|e| {
        Error::database(
            format!("reading the column types of {} on {}", def.table, D::ENGINE),
            e,
        )
    })?;
    let columns = target_column_types::<D>(&mut conn, def).await?;
    Ok(fill::<D>(def, stmt, &columns)?.sql)
}
