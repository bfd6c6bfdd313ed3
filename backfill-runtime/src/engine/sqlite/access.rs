//! SQLite's view of the range reads' source: the table's pages (from `dbstat`, else the whole
//! file) against the page cache (`cache_size`), the b-tree order its rows are stored in (the
//! rowid, its `INTEGER PRIMARY KEY` alias, or a `WITHOUT ROWID` table's PRIMARY KEY) against
//! the key column, else the key's order over a sample of rows in stored order, how an
//! `EXPLAIN QUERY PLAN` reaches the table, and the covering index.

use sqlx::sqlite::SqliteConnection;

use super::{catalog, SqliteEngine};
use crate::access::{CacheSize, PhysicalOrder, ReadAccess, SourceSize};
use crate::engine::{
    DecodeAs, Driver, SourceFacts, SourceProbe, TableName, STORED_ORDER_SAMPLE_ROWS,
};

/// The source's size, the page cache, its clustered key, its statistics, and, when the
/// clustered key is not the key column, the key column of the first rows in stored order.
pub(super) async fn source_facts(
    conn: &mut SqliteConnection,
    probe: &SourceProbe<'_>,
) -> Result<SourceFacts, sqlx::Error> {
    let Some(stats) = catalog::source_stats(conn, probe.table).await? else {
        return Ok(SourceFacts::default());
    };
    let key_column = probe.key_columns.and_then(|k| k.first());
    let (db_pages, page_size, cache_size) = stats.database;
    let positive = |v: i64| u64::try_from(v).ok();
    let (pages, bytes, measured) = match stats.table {
        Some((pages, bytes)) => (positive(pages), positive(bytes), None),
        None => (
            positive(db_pages),
            positive(db_pages.saturating_mul(page_size)),
            Some("the whole database file".to_string()),
        ),
    };
    let cache_bytes = if cache_size < 0 {
        cache_size.unsigned_abs().saturating_mul(1024)
    } else {
        positive(cache_size.saturating_mul(page_size)).unwrap_or(0)
    };
    let clustered_by = match (stats.without_rowid, stats.primary.as_slice()) {
        (Some(true), primary) => primary.iter().map(|(name, _)| name.clone()).collect(),
        // The rowid alias: a single INTEGER PRIMARY KEY column.
        (_, [(name, declared)]) if declared.eq_ignore_ascii_case("INTEGER") => vec![name.clone()],
        _ => vec!["rowid".to_string()],
    };
    let in_key_order = key_column.is_some_and(|k| clustered_by[0].eq_ignore_ascii_case(k));

    // sqlite_stat1: `rows avg-rows-per-value ...`; the first index led by the key column gives
    // its distinct values.
    let numbers = |stat: &str| -> Vec<u64> {
        stat.split_whitespace()
            .map_while(|n| n.parse().ok())
            .collect()
    };
    let rows = stats
        .stat1
        .iter()
        .find_map(|(_, s)| numbers(s).first().copied());
    let distinct_keys = key_column.and_then(|key| {
        stats.stat1.iter().find_map(|(idx, stat)| {
            let idx = idx.as_deref()?;
            let led = stats.indexes.iter().any(|(name, columns, _)| {
                name == idx
                    && columns
                        .first()
                        .and_then(Option::as_deref)
                        .is_some_and(|f| f.eq_ignore_ascii_case(key))
            });
            match numbers(stat).as_slice() {
                [rows, per_key, ..] if led && *per_key > 0 => Some(rows.div_ceil(*per_key)),
                _ => None,
            }
        })
    });

    // Every index carries the rowid, so the rowid alias's column too; one with an expression
    // part, or partial, cannot cover every range.
    let rowid_alias = (stats.without_rowid != Some(true) && clustered_by[0] != "rowid")
        .then(|| clustered_by[0].clone());
    let indexes = stats
        .indexes
        .iter()
        .filter(|(_, _, partial)| !partial)
        .filter_map(|(name, columns, _)| {
            let mut all: Vec<String> = columns.iter().cloned().collect::<Option<_>>()?;
            all.extend(rowid_alias.clone());
            Some((name.clone(), all))
        })
        .collect();
    let stored_order_sample = match key_column {
        Some(key) if !in_key_order => {
            // NOT INDEXED: the rows come from the table's own b-tree, in stored order.
            let sql = format!(
                "SELECT {} FROM {} NOT INDEXED LIMIT {STORED_ORDER_SAMPLE_ROWS}",
                SqliteEngine::quote_ident(key),
                SqliteEngine::quote_table(probe.table)
            );
            SqliteEngine::fetch_all(conn, &sql, &[], &[DecodeAs::from(probe.key_kind)])
                .await
                .ok()
                .map(|rows| rows.iter().filter_map(|r| r[0].key_value()).collect())
        }
        _ => None,
    };
    Ok(SourceFacts {
        size: SourceSize {
            table_bytes: bytes,
            total_bytes: None,
            measured,
            pages,
            rows,
            cache: Some(CacheSize {
                setting: "cache_size".to_string(),
                bytes: cache_bytes,
            }),
            planner_cache: None,
        },
        order: PhysicalOrder {
            clustered_by: Some(clustered_by),
            correlation: None,
        },
        distinct_keys,
        stored_order_sample,
        indexes,
    })
}

/// Reads the `EXPLAIN QUERY PLAN` step on the source (`SEARCH e USING COVERING INDEX i (...)`,
/// `SEARCH e USING INTEGER PRIMARY KEY (rowid<?)`, `SCAN e`; older versions write
/// `SCAN TABLE events AS e`).
pub(super) fn read_access(explain: &str, table: &str, alias: Option<&str>) -> ReadAccess {
    for line in explain.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some((verb, rest)) = words.split_first() else {
            continue;
        };
        if *verb != "SCAN" && *verb != "SEARCH" {
            continue;
        }
        let rest = rest.strip_prefix(&["TABLE"]).unwrap_or(rest);
        let Some((name, mut rest)) = rest.split_first() else {
            continue;
        };
        let mut named = *name;
        if let [as_, a, tail @ ..] = rest {
            if *as_ == "AS" {
                named = a;
                rest = tail;
            }
        }
        let matches =
            named.eq_ignore_ascii_case(alias.unwrap_or(table)) || name.eq_ignore_ascii_case(table);
        if !matches {
            continue;
        }
        return match rest {
            ["USING", "COVERING", "INDEX", index, ..] => ReadAccess::IndexOnly {
                index: index.to_string(),
            },
            ["USING", "INDEX", index, ..] => ReadAccess::Index {
                index: index.to_string(),
            },
            ["USING", "INTEGER", "PRIMARY", "KEY", ..] | ["USING", "PRIMARY", "KEY", ..] => {
                ReadAccess::ClusteredRange
            }
            [] if *verb == "SCAN" => ReadAccess::FullScan,
            _ => ReadAccess::Other(line.trim().to_string()),
        };
    }
    ReadAccess::Other("the plan names no read of the source table".to_string())
}

/// SQLite's planner prefers an index with statistics, and a connection keeps the statistics
/// it loaded.
pub(super) fn unused_covering_index_hint(table: &TableName, index: &str) -> String {
    let quoted = match &table.schema {
        Some(schema) => format!(
            "{}.{}",
            SqliteEngine::quote_ident(schema),
            SqliteEngine::quote_ident(index)
        ),
        None => SqliteEngine::quote_ident(index),
    };
    format!(
        "{index} holds every column read, but the plan does not read it alone: run ANALYZE \
         {quoted}, then reopen the connections (each keeps the statistics it loaded)"
    )
}

/// `CREATE INDEX`, then `ANALYZE` of the new index: SQLite has no INCLUDE, so the other
/// columns read are part of the index's key (every index carries the rowid too); and once a
/// table has statistics, the planner prefers an index with statistics over one without.
pub(super) fn covering_index_ddl(
    table: &TableName,
    name: &str,
    key: &[String],
    include: &[String],
) -> (Vec<String>, String) {
    let columns: Vec<String> = key
        .iter()
        .chain(include)
        .map(|c| SqliteEngine::quote_ident(c))
        .collect();
    // SQLite puts the schema on the index, and the table must be in that schema.
    let index = match &table.schema {
        Some(schema) => format!(
            "{}.{}",
            SqliteEngine::quote_ident(schema),
            SqliteEngine::quote_ident(name)
        ),
        None => SqliteEngine::quote_ident(name),
    };
    (
        vec![
            format!(
                "CREATE INDEX {index} ON {} ({})",
                SqliteEngine::quote_ident(&table.name),
                columns.join(", ")
            ),
            format!("ANALYZE {index}"),
        ],
        "SQLite builds the index holding the database's write lock (writers wait, up to their \
         busy_timeout); connections already open keep the statistics they loaded, so the \
         application's pool plans with the index once its connections are reopened"
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_step_on_the_source() {
        assert_eq!(
            read_access(
                "SEARCH e USING COVERING INDEX ev_cover (user_id<?)",
                "events",
                Some("e")
            ),
            ReadAccess::IndexOnly {
                index: "ev_cover".into()
            }
        );
        assert_eq!(
            read_access(
                "SEARCH events USING INDEX ev_user (user_id<?)\nUSE TEMP B-TREE FOR GROUP BY",
                "events",
                None
            ),
            ReadAccess::Index {
                index: "ev_user".into()
            }
        );
        assert_eq!(
            read_access("SCAN e\nUSE TEMP B-TREE FOR GROUP BY", "events", Some("e")),
            ReadAccess::FullScan
        );
        assert_eq!(
            read_access(
                "SEARCH TABLE items AS i USING INTEGER PRIMARY KEY (rowid<?)",
                "items",
                Some("i")
            ),
            ReadAccess::ClusteredRange
        );
    }

    #[test]
    fn the_covering_index_lists_every_column_read() {
        let (ddl, _) = covering_index_ddl(
            &TableName::parse("aux.events").unwrap(),
            "events_user_id_covering",
            &["user_id".into()],
            &["amount".into()],
        );
        assert_eq!(
            ddl,
            [
                "CREATE INDEX \"aux\".\"events_user_id_covering\" ON \"events\" (\"user_id\", \"amount\")",
                "ANALYZE \"aux\".\"events_user_id_covering\"",
            ]
        );
    }
}
