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
use crate::coerce::FilledRanged;
use crate::definition::{Definition, KeyKind, Ranged};
use crate::engine::{Conn, Driver, SourceFacts, SourceProbe, TableName};
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
    let covering = existing_covering_index(D::ENGINE, &facts.indexes, &key, &columns_read);
    let Some(index) = index_to_pin::<D>(&facts, &key, covering) else {
        return Ok(None);
    };
    let (Some(first), Some(next)) = (
        hinted::<D>(&filled.first.sql, &index),
        hinted::<D>(&filled.next.sql, &index),
    ) else {
        return Ok(None);
    };
    filled.first.sql = first;
    filled.next.sql = next;
    Ok(Some(index))
}

/// The index the ranges are pinned to: `covering` (the index holding the key columns first and
/// every column read, [`existing_covering_index`]), on an engine that takes index hints, unless
/// the source is clustered by the key (each range then reads its own rows in order already).
pub(super) fn index_to_pin<D: Driver>(
    facts: &SourceFacts,
    key: &[String],
    covering: Option<&str>,
) -> Option<String> {
    let clustered_by_key = facts
        .order
        .clustered_by
        .as_ref()
        .and_then(|by| by.first())
        .zip(key.first())
        .is_some_and(|(by, key)| by.eq_ignore_ascii_case(key));
    (takes_index_hints::<D>() && !clustered_by_key)
        .then_some(covering)
        .flatten()
        .map(str::to_string)
}

/// Whether `D` writes index hints at all (checked before the catalog is read for one).
fn takes_index_hints<D: Driver>() -> bool {
    D::index_hint("").is_some()
}

/// `sql` with `D`'s hint for `index` written just after its source table's reference; `None`
/// when that reference cannot be found (or carries a hint of its own).
pub(super) fn hinted<D: Driver>(sql: &str, index: &str) -> Option<String> {
    let hint = D::index_hint(index)?;
    let read = source::source_read(sql, D::ENGINE)?;
    let table = read.source_table().filter(|t| !t.hinted)?;
    let (before, after) = (sql.get(..table.end)?, sql.get(table.end..)?);
    Some(format!("{before}{hint}{after}"))
}

#[cfg(all(test, feature = "mysql"))]
mod tests {
    use super::*;
    use crate::engine::mysql::MySqlEngine;

    fn hinted_mysql(sql: &str, index: &str) -> Option<String> {
        hinted::<MySqlEngine>(sql, index)
    }

    #[test]
    fn the_hint_follows_the_source_tables_alias_in_the_derived_table() {
        let sql = "INSERT INTO `user_stats` (`user_id`, `n`) SELECT n.`user_id`, n.`n` FROM (SELECT e.user_id AS `user_id`, count(*) AS `n` FROM events AS e JOIN users u ON u.id = e.user_id WHERE e.user_id IS NOT NULL AND e.user_id <= ? GROUP BY e.user_id) AS n ON DUPLICATE KEY UPDATE `n` = n.`n`";
        let out = hinted_mysql(sql, "ev_cover").expect("hinted");
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
        let out = hinted_mysql(sql, "i").expect("hinted");
        assert!(
            out.contains("FROM `db`.`events` FORCE INDEX (`i`) WHERE"),
            "{out}"
        );
    }

    #[test]
    fn a_hint_written_in_from_is_left_alone() {
        let sql = "SELECT e.user_id, count(*) FROM events e USE INDEX (events_user_id) WHERE e.user_id IS NOT NULL AND e.user_id <= ? GROUP BY e.user_id";
        assert_eq!(hinted_mysql(sql, "i"), None);
        let read = source::source_read(sql, crate::Engine::MySql).expect("read");
        let table = read.source_table().expect("the source table");
        assert_eq!(table.alias.as_ref().map(|a| a.name.as_str()), Some("e"));
        assert!(table.hinted);
    }

    #[test]
    fn a_source_clustered_by_the_key_is_not_pinned() {
        let key = ["user_id".to_string()];
        let clustered = |by: &str| SourceFacts {
            order: crate::access::PhysicalOrder {
                clustered_by: Some(vec![by.to_string()]),
                correlation: None,
            },
            ..SourceFacts::default()
        };
        assert_eq!(
            index_to_pin::<MySqlEngine>(&clustered("id"), &key, Some("cover")),
            Some("cover".to_string())
        );
        assert_eq!(
            index_to_pin::<MySqlEngine>(&clustered("USER_ID"), &key, Some("cover")),
            None
        );
        assert_eq!(
            index_to_pin::<MySqlEngine>(&clustered("id"), &key, None),
            None
        );
    }
}
