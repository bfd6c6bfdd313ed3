//! Pins a range's source read to the index that covers it, on the engines whose optimizer
//! needs telling (MySQL/MariaDB, [`Driver::index_hint`]).
//!
//! MariaDB 10.11 weighs a range over the key's plain index (each row then looked up in the
//! table) against the same range over a covering index, and its choice does not hold: measured
//! in the bench on 2M events just after `ADD INDEX`, one range's EXPLAIN chose the covering
//! index, and a few statements later (an EXPLAIN of the upsert, an INSERT ... SELECT, in
//! between) the plain index, and kept to it. The plain index's read is the scattered one
//! `plan` warns of (30,062 buffer-pool page requests for a range of 1,001 rows, against 37
//! from the covering index); the covering index reads the range in key order from the index
//! alone. So when the source has an index that holds the key columns first and every column
//! the read names, the statements that read ranges name it (`FORCE INDEX`), and `plan` says
//! so. Only catalog output (the index's name, quoted) is written into the SQL.

#![allow(clippy::result_large_err)]

use super::analyse::{existing_covering_index, resolve_columns};
use super::source;
use crate::coerce::{Filled, FilledRanged};
use crate::definition::{Definition, KeyKind, Ranged};
use crate::engine::{Conn, Driver, SourceProbe, TableName};
use crate::error::Error;

/// `ranged` with its holes filled ([`crate::coerce::fill_ranged`]) and its source read pinned
/// to the covering index, if any: the statement as a run executes it; with the index pinned.
pub(crate) async fn filled_and_pinned<D: Driver>(
    conn: &mut Conn<D>,
    def: &'static Definition,
    ranged: &'static Ranged,
) -> Result<(FilledRanged, Option<String>), Error> {
    let mut filled = crate::coerce::fill_ranged::<D>(conn, def, ranged).await?;
    let pinned = pin_covering_index::<D>(conn, def, &mut filled).await?;
    Ok((filled, pinned))
}

/// Pins both variants of `filled` (a statement reading key ranges of the source) to the index
/// that covers their read, when `D` takes index hints and the source has such an index; the
/// index pinned, else `None` (and `filled` is left as it was).
pub(crate) async fn pin_covering_index<D: Driver>(
    conn: &mut Conn<D>,
    def: &Definition,
    filled: &mut FilledRanged,
) -> Result<Option<String>, Error> {
    if !takes_index_hints::<D>() {
        return Ok(None);
    }
    let Some(read) = source::source_read(&filled.first.sql, D::ENGINE) else {
        return Ok(None);
    };
    let Some(table_ref) = read.source_table().filter(|t| !t.hinted) else {
        return Ok(None);
    };
    let table = TableName {
        schema: table_ref.schema.as_ref().map(|s| s.name.clone()),
        name: table_ref.name.name.clone(),
    };
    let reading = |e: sqlx::Error| {
        Error::database(
            format!(
                "reading the indexes of {}, the source of {}",
                table.name, def.name
            ),
            e,
        )
    };
    let Some(shape) = D::table_shape(conn, &table)
        .await
        .map_err(|e| reading(e.source))?
    else {
        return Ok(None);
    };
    let (Some(key), columns_read) = resolve_columns(D::ENGINE, &read, table_ref, &shape) else {
        return Ok(None);
    };
    let probe = SourceProbe {
        table: &table,
        key_columns: None,
        key_kind: def.key.first().map_or(KeyKind::Int, |k| k.kind),
    };
    let facts = D::source_facts(conn, &probe).await.map_err(reading)?;
    // A source clustered by the key reads each range in order from its own rows already.
    let clustered_by_key = facts
        .order
        .clustered_by
        .as_ref()
        .and_then(|by| by.first())
        .is_some_and(|first| first.eq_ignore_ascii_case(&key[0]));
    if clustered_by_key {
        return Ok(None);
    }
    let Some(index) = existing_covering_index(D::ENGINE, &facts.indexes, &key, &columns_read)
    else {
        return Ok(None);
    };
    let Some(hint) = D::index_hint(index) else {
        return Ok(None);
    };
    let (Some(first), Some(next)) = (
        hinted(&filled.first, &hint, D::ENGINE),
        hinted(&filled.next, &hint, D::ENGINE),
    ) else {
        return Ok(None);
    };
    filled.first.sql = first;
    filled.next.sql = next;
    Ok(Some(index.to_string()))
}

/// Whether `D` writes index hints at all (checked before the catalog is read for one).
fn takes_index_hints<D: Driver>() -> bool {
    D::index_hint("").is_some()
}

/// `filled`'s SQL with `hint` written just after its source table's reference; `None` when
/// that reference cannot be found (or carries a hint of its own).
fn hinted(filled: &Filled, hint: &str, engine: crate::Engine) -> Option<String> {
    let read = source::source_read(&filled.sql, engine)?;
    let table = read.source_table().filter(|t| !t.hinted)?;
    let (before, after) = (filled.sql.get(..table.end)?, filled.sql.get(table.end..)?);
    Some(format!("{before}{hint}{after}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::Stmt;

    static EMPTY: Stmt = Stmt {
        sql: "",
        params: &[],
        holes: &[],
    };

    fn filled(sql: &str) -> Filled {
        Filled {
            sql: sql.to_string(),
            stmt: &EMPTY,
        }
    }

    #[test]
    fn the_hint_follows_the_source_tables_alias_in_the_derived_table() {
        let sql = "INSERT INTO `user_stats` (`user_id`, `n`) SELECT n.`user_id`, n.`n` FROM (SELECT e.user_id AS `user_id`, count(*) AS `n` FROM events AS e JOIN users u ON u.id = e.user_id WHERE e.user_id IS NOT NULL AND e.user_id <= ? GROUP BY e.user_id) AS n ON DUPLICATE KEY UPDATE `n` = n.`n`";
        let out = hinted(
            &filled(sql),
            " FORCE INDEX (`ev_cover`)",
            crate::Engine::MySql,
        )
        .expect("hinted");
        assert_eq!(
            out,
            sql.replace(
                "FROM events AS e JOIN",
                "FROM events AS e FORCE INDEX (`ev_cover`) JOIN"
            )
        );
    }

    #[test]
    fn a_table_without_alias_and_a_qualified_one_take_the_hint_after_their_name() {
        let sql = "SELECT `db`.`events`.user_id, count(*) FROM `db`.`events` WHERE `db`.`events`.user_id IS NOT NULL AND `db`.`events`.user_id <= ? GROUP BY `db`.`events`.user_id";
        let out = hinted(&filled(sql), " FORCE INDEX (`i`)", crate::Engine::MySql).expect("hinted");
        assert!(
            out.contains("FROM `db`.`events` FORCE INDEX (`i`) WHERE"),
            "{out}"
        );
    }

    #[test]
    fn a_hint_written_in_from_is_left_alone() {
        let sql = "SELECT e.user_id, count(*) FROM events e USE INDEX (events_user_id) WHERE e.user_id IS NOT NULL AND e.user_id <= ? GROUP BY e.user_id";
        assert_eq!(
            hinted(&filled(sql), " FORCE INDEX (`i`)", crate::Engine::MySql),
            None
        );
        let read = source::source_read(sql, crate::Engine::MySql).expect("read");
        let table = read.source_table().expect("the source table");
        assert_eq!(table.alias.as_ref().map(|a| a.name.as_str()), Some("e"));
        assert!(table.hinted);
    }
}
