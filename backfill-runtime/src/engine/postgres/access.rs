//! PostgreSQL's view of the range reads' source: its heap's size against `shared_buffers`
//! (and the `effective_cache_size` the planner assumes), the key column's `pg_stats`
//! correlation with the heap's order, how an EXPLAIN reaches the table, and the covering index
//! built online (`CREATE INDEX CONCURRENTLY ... INCLUDE`).

use sqlx::postgres::PgConnection;

use super::{catalog, PgEngine};
use crate::access::{
    CacheSize, Correlation, CorrelationSource, PhysicalOrder, ReadAccess, SourceSize,
};
use crate::engine::{Driver, SourceFacts, SourceProbe, TableName};

/// The source's size, caches and key statistics. A heap is stored in no key's order: the
/// correlation alone says how close to key order it is.
pub(super) async fn source_facts(
    conn: &mut PgConnection,
    probe: &SourceProbe<'_>,
) -> Result<SourceFacts, sqlx::Error> {
    let key_column = probe
        .key_columns
        .and_then(|k| k.first())
        .map(String::as_str);
    let Some(stats) = catalog::source_stats(conn, probe.table, key_column).await? else {
        return Ok(SourceFacts::default());
    };
    let cache = |name: &str| {
        stats
            .caches
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(n, bytes)| {
                Some(CacheSize {
                    setting: n.clone(),
                    bytes: u64::try_from(*bytes).ok()?,
                })
            })
    };
    let rows = stats.rows.and_then(|r| u64::try_from(r).ok());
    let (correlation, n_distinct) = stats.key_stats.unwrap_or((None, None));
    let distinct_keys = n_distinct.and_then(|n| {
        let keys = if n < 0.0 { -n * rows? as f64 } else { n };
        (keys >= 1.0).then_some(keys.round() as u64)
    });
    Ok(SourceFacts {
        size: SourceSize {
            table_bytes: u64::try_from(stats.heap_bytes).ok(),
            total_bytes: u64::try_from(stats.total_bytes).ok(),
            measured: None,
            pages: u64::try_from(stats.pages).ok().filter(|p| *p > 0),
            rows,
            cache: cache("shared_buffers"),
            planner_cache: cache("effective_cache_size"),
        },
        order: PhysicalOrder {
            clustered_by: None,
            correlation: correlation.map(|value| Correlation {
                value,
                source: CorrelationSource::Statistics,
            }),
        },
        distinct_keys,
        stored_order_sample: None,
        indexes: stats.indexes,
    })
}

/// Reads the text EXPLAIN: the first scan node on `table` (`Index Only Scan using i on t a`,
/// `Bitmap Heap Scan on t a` with its `Bitmap Index Scan on i`, `Seq Scan on t a`).
pub(super) fn read_access(explain: &str, table: &str, alias: Option<&str>) -> ReadAccess {
    let nodes: Vec<&str> = explain
        .lines()
        .map(|l| {
            let l = l.trim_start().trim_start_matches("->").trim_start();
            l.split("  (").next().unwrap_or(l).trim_end()
        })
        .collect();
    let on_table = |node: &str| {
        let Some((_, target)) = node.rsplit_once(" on ") else {
            return false;
        };
        let mut words = target.split_whitespace();
        let name = words.next().unwrap_or_default();
        let name = name.rsplit('.').next().unwrap_or(name).trim_matches('"');
        let named = words.next().map(|a| a.trim_matches('"'));
        name == table && (alias.is_none() || named.is_none_or(|n| Some(n) == alias))
    };
    let index_of = |node: &str| {
        node.split_once(" using ")
            .and_then(|(_, rest)| rest.split(" on ").next())
            .map(|i| i.trim_matches('"').to_string())
    };
    for (i, node) in nodes.iter().enumerate() {
        if !on_table(node) {
            continue;
        }
        let kind = node.trim_start_matches("Parallel ");
        return if kind.starts_with("Index Only Scan") {
            ReadAccess::IndexOnly {
                index: index_of(node).unwrap_or_default(),
            }
        } else if kind.starts_with("Index Scan") {
            ReadAccess::Index {
                index: index_of(node).unwrap_or_default(),
            }
        } else if kind.starts_with("Bitmap Heap Scan") {
            let index = nodes[i + 1..]
                .iter()
                .find_map(|n| n.strip_prefix("Bitmap Index Scan on "))
                .map(|n| n.trim().trim_matches('"').to_string());
            ReadAccess::Bitmap { index }
        } else if kind.starts_with("Seq Scan") {
            ReadAccess::FullScan
        } else {
            ReadAccess::Other(node.to_string())
        };
    }
    ReadAccess::Other("the plan names no scan of the source table".to_string())
}

/// An index-only scan reads the heap for every page the visibility map does not mark
/// all-visible, so the planner prefers another path until the table is vacuumed.
pub(super) fn unused_covering_index_hint(table: &TableName, index: &str) -> String {
    format!(
        "{index} holds every column read, but the plan does not read it alone: run VACUUM \
         (ANALYZE) {} so the visibility map lets an index-only scan skip the heap",
        PgEngine::quote_table(table)
    )
}

/// `CREATE INDEX CONCURRENTLY` (no lock against writes; not inside a transaction), the other
/// columns read in `INCLUDE`, then a `VACUUM (ANALYZE)` so index-only scans can skip the heap.
pub(super) fn covering_index_ddl(
    table: &TableName,
    name: &str,
    key: &[String],
    include: &[String],
) -> (Vec<String>, String) {
    let quoted = PgEngine::quote_table(table);
    let list = |cols: &[String]| {
        cols.iter()
            .map(|c| PgEngine::quote_ident(c))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let include = if include.is_empty() {
        String::new()
    } else {
        format!(" INCLUDE ({})", list(include))
    };
    (
        vec![
            format!(
                "CREATE INDEX CONCURRENTLY {} ON {quoted} ({}){include}",
                PgEngine::quote_ident(name),
                list(key)
            ),
            format!("VACUUM (ANALYZE) {quoted}"),
        ],
        "run each outside a transaction; an index-only scan reads the heap for every page not \
         marked all-visible, so VACUUM after building (autovacuum keeps the map current); a \
         CONCURRENTLY build that fails leaves an INVALID index to DROP before retrying"
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_scan_of_the_source() {
        let plan = "GroupAggregate\n  Group Key: e.user_id\n  ->  Index Only Scan using events_cover on events e  (cost=0.29..8.3 rows=1 width=8)\n        Index Cond: (user_id <= 5)";
        assert_eq!(
            read_access(plan, "events", Some("e")),
            ReadAccess::IndexOnly {
                index: "events_cover".into()
            }
        );
        let plan = "HashAggregate  (cost=1..2 rows=1 width=8)\n  ->  Bitmap Heap Scan on events e  (cost=1..2 rows=1 width=8)\n        Recheck Cond: (user_id <= 5)\n        ->  Bitmap Index Scan on events_user_id_idx  (cost=0..1 rows=1 width=0)";
        assert_eq!(
            read_access(plan, "events", Some("e")),
            ReadAccess::Bitmap {
                index: Some("events_user_id_idx".into())
            }
        );
        let plan = "HashAggregate\n  ->  Seq Scan on events  (cost=0.00..1.00 rows=1 width=8)";
        assert_eq!(read_access(plan, "events", None), ReadAccess::FullScan);
        let plan = "GroupAggregate\n  ->  Index Scan using events_user_id_idx on events e";
        assert_eq!(
            read_access(plan, "events", Some("e")),
            ReadAccess::Index {
                index: "events_user_id_idx".into()
            }
        );
    }

    #[test]
    fn the_covering_index_is_built_concurrently_then_vacuumed() {
        let table = TableName::parse("app.events").unwrap();
        let (ddl, note) = covering_index_ddl(
            &table,
            "events_user_id_covering",
            &["user_id".into()],
            &["amount".into(), "created at".into()],
        );
        assert_eq!(
            ddl,
            [
                "CREATE INDEX CONCURRENTLY \"events_user_id_covering\" ON \"app\".\"events\" (\"user_id\") INCLUDE (\"amount\", \"created at\")",
                "VACUUM (ANALYZE) \"app\".\"events\"",
            ]
        );
        assert!(note.contains("all-visible"));
    }
}
