//! MySQL/MariaDB's view of the range reads' source: InnoDB's data and index length against
//! `innodb_buffer_pool_size`, whether the clustered index (the PRIMARY KEY, the order rows are
//! stored in) starts with the key column, else the key's order over a sample of rows in stored
//! order, how an EXPLAIN reaches the table, and the covering index added online
//! (`ALGORITHM=INPLACE, LOCK=NONE`).

use sqlx::mysql::MySqlConnection;

use super::{catalog, MySqlEngine};
use crate::access::{CacheSize, PhysicalOrder, ReadAccess, SourceSize};
use crate::engine::{
    DecodeAs, Driver, SourceFacts, SourceProbe, TableName, STORED_ORDER_SAMPLE_ROWS,
};

/// The source's size, the buffer pool, its clustered key, and, when that key does not start
/// with the key column, the key column of the first rows in stored order.
pub(super) async fn source_facts(
    conn: &mut MySqlConnection,
    probe: &SourceProbe<'_>,
) -> Result<SourceFacts, sqlx::Error> {
    let key_column = probe.key_columns.and_then(|k| k.first());
    let Some(stats) =
        catalog::source_stats(conn, probe.table, key_column.map(String::as_str)).await?
    else {
        return Ok(SourceFacts::default());
    };
    let positive = |v: Option<i64>| v.and_then(|v| u64::try_from(v).ok());
    let data = positive(stats.data_bytes);
    // Every secondary index of InnoDB ends with the primary key's columns.
    let indexes = stats
        .indexes
        .iter()
        .map(|(name, columns)| {
            let mut all = columns.clone();
            for pk in &stats.primary {
                if !all.iter().any(|c| c.eq_ignore_ascii_case(pk)) {
                    all.push(pk.clone());
                }
            }
            (name.clone(), all)
        })
        .collect();
    let clustered_by = (!stats.primary.is_empty()).then(|| stats.primary.clone());
    let in_key_order = match (&clustered_by, key_column) {
        (Some(primary), Some(key)) => primary[0].eq_ignore_ascii_case(key),
        _ => false,
    };
    let stored_order_sample = match key_column {
        Some(key) if !in_key_order => {
            // `USE INDEX ()`: no index, so the rows come from the clustered index, in the order
            // they are stored.
            let sql = format!(
                "SELECT {} FROM {} USE INDEX () LIMIT {STORED_ORDER_SAMPLE_ROWS}",
                MySqlEngine::quote_ident(key),
                MySqlEngine::quote_table(probe.table)
            );
            let rows =
                MySqlEngine::fetch_all(conn, &sql, &[], &[DecodeAs::from(probe.key_kind)]).await;
            rows.ok()
                .map(|rows| rows.iter().filter_map(|r| r[0].key_value()).collect())
        }
        _ => None,
    };
    Ok(SourceFacts {
        size: SourceSize {
            table_bytes: data,
            total_bytes: data.map(|d| d + positive(stats.index_bytes).unwrap_or(0)),
            measured: None,
            pages: data
                .zip(positive(stats.page_size))
                .map(|(d, p)| d.div_ceil(p.max(1))),
            rows: positive(stats.rows),
            cache: positive(stats.buffer_pool).map(|bytes| CacheSize {
                setting: "innodb_buffer_pool_size".to_string(),
                bytes,
            }),
            planner_cache: None,
        },
        order: PhysicalOrder {
            clustered_by,
            correlation: None,
        },
        distinct_keys: positive(stats.key_cardinality).filter(|k| *k > 0),
        stored_order_sample,
        indexes,
    })
}

/// The value of `column` in one line of [`MySqlEngine::explain`]'s output
/// (`id=1 select_type=SIMPLE table=e type=range ... Extra=Using where; Using index`).
fn field<'l>(line: &'l str, column: &str) -> Option<&'l str> {
    const COLUMNS: [&str; 12] = [
        "id",
        "select_type",
        "table",
        "partitions",
        "type",
        "possible_keys",
        "key",
        "key_len",
        "ref",
        "rows",
        "filtered",
        "Extra",
    ];
    let start = if line.starts_with(&format!("{column}=")) {
        column.len() + 1
    } else {
        line.find(&format!(" {column}="))? + column.len() + 2
    };
    let rest = &line[start..];
    let end = COLUMNS
        .iter()
        .filter_map(|c| rest.find(&format!(" {c}=")))
        .min()
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

/// Reads the EXPLAIN row of the source (its `table` is the alias, else the table's name):
/// `type=ALL` scans the table; the PRIMARY key reads the clustered index in stored order;
/// `Using index` in Extra reads the index alone.
pub(super) fn read_access(explain: &str, table: &str, alias: Option<&str>) -> ReadAccess {
    let name = alias.unwrap_or(table);
    let Some(line) = explain
        .lines()
        .find(|l| field(l, "table").is_some_and(|t| t.eq_ignore_ascii_case(name)))
    else {
        return ReadAccess::Other("the plan names no read of the source table".to_string());
    };
    let access = field(line, "type").unwrap_or_default();
    let key = field(line, "key").filter(|k| *k != "NULL");
    let extra = field(line, "Extra").unwrap_or_default();
    let covering = extra
        .split(';')
        .map(str::trim)
        .any(|e| e == "Using index" || e.starts_with("Using index for group-by"));
    match (access, key) {
        ("ALL", _) => ReadAccess::FullScan,
        (_, Some(k)) if k.eq_ignore_ascii_case("PRIMARY") => ReadAccess::ClusteredRange,
        (_, Some(k)) if covering => ReadAccess::IndexOnly {
            index: k.to_string(),
        },
        (_, Some(k)) => ReadAccess::Index {
            index: k.to_string(),
        },
        _ => ReadAccess::Other(format!("type={access} Extra={extra}")),
    }
}

/// The optimizer chooses from the index statistics, which InnoDB refreshes by sampling.
pub(super) fn unused_covering_index_hint(table: &TableName, index: &str) -> String {
    format!(
        "{index} holds every column read, but the plan does not read it alone: run ANALYZE \
         TABLE {} so the optimizer sees its statistics",
        MySqlEngine::quote_table(table)
    )
}

/// `FORCE INDEX`, not `USE INDEX`: the latter still lets a full scan win, and the point is the
/// index's in-order, index-only range read (every range is a small part of the table).
pub(super) fn index_hint(index: &str) -> String {
    format!(" FORCE INDEX ({})", MySqlEngine::quote_ident(index))
}

/// `ALTER TABLE ... ADD INDEX`, built in place without blocking writes. InnoDB has no INCLUDE:
/// the other columns read are part of the index's key.
pub(super) fn covering_index_ddl(
    table: &TableName,
    name: &str,
    key: &[String],
    include: &[String],
) -> (Vec<String>, String) {
    let columns: Vec<String> = key
        .iter()
        .chain(include)
        .map(|c| MySqlEngine::quote_ident(c))
        .collect();
    (
        vec![format!(
            "ALTER TABLE {} ADD INDEX {} ({}), ALGORITHM=INPLACE, LOCK=NONE",
            MySqlEngine::quote_table(table),
            MySqlEngine::quote_ident(name),
            columns.join(", ")
        )],
        "InnoDB has no INCLUDE: the columns read are part of the index (every secondary index \
         carries the primary key too); LOCK=NONE builds it while writes go on (logged, up to \
         innodb_online_alter_log_max_size, and applied at the end) or refuses with an error \
         rather than lock the table"
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_row_of_the_source() {
        let line = "id=1 select_type=SIMPLE table=e type=range possible_keys=ev_cover,ev_user key=ev_cover key_len=9 ref=NULL rows=1000 Extra=Using where; Using index";
        assert_eq!(
            read_access(line, "events", Some("e")),
            ReadAccess::IndexOnly {
                index: "ev_cover".into()
            }
        );
        let line = "id=1 select_type=SIMPLE table=events type=range possible_keys=ev_user key=ev_user key_len=9 ref=NULL rows=1000 Extra=Using index condition; Using temporary";
        assert_eq!(
            read_access(line, "events", None),
            ReadAccess::Index {
                index: "ev_user".into()
            }
        );
        let line = "id=1 select_type=SIMPLE table=e type=ALL possible_keys=NULL key=NULL key_len=NULL ref=NULL rows=20000 Extra=Using where";
        assert_eq!(read_access(line, "events", Some("e")), ReadAccess::FullScan);
        let line = "id=1 select_type=SIMPLE table=items type=range possible_keys=PRIMARY key=PRIMARY key_len=8 ref=NULL rows=10 Extra=Using where";
        assert_eq!(read_access(line, "items", None), ReadAccess::ClusteredRange);
    }

    #[test]
    fn the_covering_index_is_added_in_place() {
        let table = TableName::parse("events").unwrap();
        let (ddl, _) = covering_index_ddl(
            &table,
            "events_user_id_covering",
            &["user_id".into()],
            &["amount".into(), "odd`name".into()],
        );
        assert_eq!(
            ddl,
            ["ALTER TABLE `events` ADD INDEX `events_user_id_covering` (`user_id`, `amount`, `odd``name`), ALGORITHM=INPLACE, LOCK=NONE"]
        );
    }
}
