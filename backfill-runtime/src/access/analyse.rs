//! The analysis, written once for every engine: finds the range's source read in the upsert
//! (`source.rs`), resolves its columns against the source's catalog, asks the engine what it
//! knows ([`Driver::source_facts`]), explains and times one range's read (read-only, in a
//! transaction rolled back), and decides whether the ranges read the source in order, and if
//! not, which covering index would make them.

// `Error` is the crate's one public error type, large because its variants name tables,
// columns and ranges; it is returned rarely, so it is not boxed.
#![allow(clippy::result_large_err)]

use std::time::Instant;

use super::source::{self, ColumnRef, SourceRead, TableRef};
use super::{
    stored_order_correlation, AccessPath, Correlation, CorrelationSource, CostEstimate,
    CoveringIndex, RangeReadPlan, RangeSample, ReadAccess, SourceAccess, Verdict,
    IN_ORDER_CORRELATION,
};
use crate::definition::{Definition, Engine, KeyKind, Statements};
use crate::engine::io::SqlxIo;
use crate::engine::{Conn, Driver, SourceFacts, SourceProbe, TableName, TableShape};
use crate::error::Error;
use crate::value::Key;

/// How the source of `def`'s ranges is read on `D`'s engine, in ranges sized by `sizer`.
/// `first_range` is the first batch's upper bound and key count (from the plan), `None` when
/// the source has no keys; `estimated_keys` the plan's estimate of distinct keys, for when the
/// engine has none.
pub(crate) async fn access_path<D: Driver>(
    conn: &mut Conn<D>,
    def: &'static Definition,
    stmts: &'static Statements,
    sizer: &crate::sizing::BatchSizer,
    first_range: Option<&(Key, u64)>,
    estimated_keys: Option<u64>,
    timed: bool,
) -> Result<SourceAccess, Error> {
    let db = |doing: &'static str| {
        let context = format!(
            "analysing the source access of {} on {}: {doing}",
            def.table,
            D::ENGINE
        );
        move |e| Error::database(context, e)
    };
    let not_analysed = |reason: String| Ok(SourceAccess::NotAnalysed { reason });
    let batch_size = sizer.size();
    let upsert = crate::coerce::fill_ranged::<D>(conn, def, &stmts.upsert).await?;
    let first = &upsert.first;
    let Some(read) = source::source_read(&first.sql, D::ENGINE) else {
        return not_analysed(format!(
            "in place from its own rows: each range reads {} through its key index, the rows \
             it updates",
            def.table
        ));
    };
    if read.placeholders != first.stmt.params.len() {
        return not_analysed(
            "the range's read could not be told apart from the rest of the upsert".to_string(),
        );
    }
    let Some(table_ref) = read.source_table().cloned() else {
        return not_analysed(format!(
            "the ranges filter on {}, which names no single table of the source",
            read.key
                .iter()
                .map(|(k, _)| k.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    };
    let table = TableName {
        schema: table_ref.schema.as_ref().map(|s| s.name.clone()),
        name: table_ref.name.name.clone(),
    };
    let source_name = match &table.schema {
        Some(schema) => format!("{schema}.{}", table.name),
        None => table.name.clone(),
    };
    let shape = D::table_shape(conn, &table)
        .await
        .map_err(|e| Error::database(format!("reading the source {source_name}"), e.source))?;
    let Some(shape) = shape else {
        return not_analysed(format!(
            "{source_name} is not a table this analysis can read (a view or a CTE?)"
        ));
    };
    let (key_columns, columns_read) = resolve_columns(D::ENGINE, &read, &table_ref, &shape);
    let key_kind = def.key.first().map_or(KeyKind::Int, |k| k.kind);
    let probe = SourceProbe {
        table: &table,
        key_columns: key_columns.as_deref(),
        key_kind,
    };
    let mut facts = D::source_facts(conn, &probe)
        .await
        .map_err(db("reading the source's size and statistics"))?;
    if let Some(sample) = facts.stored_order_sample.take() {
        facts.order.correlation = stored_order_correlation(&sample).map(|value| Correlation {
            value,
            source: CorrelationSource::Sample {
                rows: sample.len() as u64,
            },
        });
    }

    let existing = key_columns
        .as_ref()
        .and_then(|key| existing_covering_index(D::ENGINE, &facts.indexes, key, &columns_read));
    // The read as a run executes it: pinned to the covering index where the engine needs a
    // hint to keep to it (`pin.rs`).
    let pinned = key_columns
        .as_deref()
        .and_then(|key| super::pin::index_to_pin::<D>(&facts, key, existing))
        .and_then(|index| {
            let sql = super::pin::hinted::<D>(&first.sql, &index)?;
            Some((index, source::source_read(&sql, D::ENGINE)?.sql))
        });
    let mut pinned_note = None;
    let (read_plan, sample) = match first_range {
        Some((hi, keys)) => {
            let binds = crate::engine::bind_params(first.stmt.params, None, Some(hi), batch_size)
                .map_err(|problem| Error::Definition {
                name: def.name.to_string(),
                problem,
            })?;
            let read_sql = pinned.as_ref().map_or(&read.sql, |(_, sql)| sql);
            let explain = D::explain(conn, read_sql, &binds)
                .await
                .map_err(db("explaining one range's read"))?;
            // The pinned index holds every column read (the catalog says so), so InnoDB reads
            // it alone whatever Extra shows. MariaDB 10.11 stops printing `Using index` for
            // the table, on every connection, once an EXPLAIN of an INSERT ... SELECT has read
            // it (as `plan` does): measured on 2M events, a pinned range of 1,001 rows asked
            // the buffer pool for 37 pages both before and after Extra turned to `Using index
            // condition` (30,062 through the key's plain index).
            let access_of = |explain: &str| match D::read_access(
                explain,
                &table_ref.name.name,
                table_ref.alias.as_ref().map(|a| a.name.as_str()),
            ) {
                ReadAccess::Index { index }
                    if pinned
                        .as_ref()
                        .is_some_and(|(p, _)| index.eq_ignore_ascii_case(p)) =>
                {
                    ReadAccess::IndexOnly { index }
                }
                access => access,
            };
            let access = access_of(&explain);
            if let Some((index, _)) = &pinned {
                // What the optimizer reads without the hint, for the note.
                let alone = D::explain(conn, &read.sql, &binds)
                    .await
                    .map_err(db("explaining one range's read without the hint"))?;
                let alone = Some(access_of(&alone)).filter(|a| *a != access);
                pinned_note = Some(match alone {
                    Some(alone) => format!(
                        "the ranges name {index} in an index hint: for this range the optimizer \
                         alone would choose {alone} (its estimates put the two close, and they \
                         move with the sampled statistics)"
                    ),
                    None => format!(
                        "the ranges name {index} in an index hint, so the optimizer keeps to it \
                         whatever the sampled statistics say"
                    ),
                });
            }
            let sample = if timed {
                Some(
                    time_read::<D>(conn, read_sql, &binds, *keys)
                        .await
                        .map_err(db("reading one range, rolled back"))?,
                )
            } else {
                None
            };
            (RangeReadPlan { access, explain }, sample)
        }
        None => (
            RangeReadPlan {
                access: ReadAccess::NoRange,
                explain: String::new(),
            },
            None,
        ),
    };

    // An integer key span bounds the distinct keys from above; the engines' estimates
    // (InnoDB's sampled cardinality above all) can overshoot it.
    let distinct_keys = match (facts.distinct_keys, estimated_keys) {
        (Some(stats), Some(span)) => Some(stats.min(span)),
        (stats, span) => stats.or(span),
    };
    let estimate = match (facts.size.pages, facts.size.rows, distinct_keys) {
        (Some(pages), Some(rows), Some(keys)) => {
            CostEstimate::new(pages, rows, keys, batch_size).map(|e| e.growing_to(sizer.largest()))
        }
        _ => None,
    };
    let mut notes: Vec<String> = pinned_note.into_iter().collect();
    let verdict = verdict(
        &read_plan.access,
        &facts,
        key_columns.as_deref(),
        &source_name,
        D::ENGINE,
    );
    if !def.grouped && matches!(verdict, Verdict::InKeyOrder { .. }) {
        notes.push(
            "row to row, keyed by the order the source is stored in: each range reads its rows \
             in key order"
                .to_string(),
        );
    }
    if estimate.is_none() {
        notes.push(if facts.size.rows.is_none() || facts.size.pages.is_none() {
            format!(
                "no page estimate without statistics: ANALYZE {source_name} gives the engine its \
                 row count"
            )
        } else {
            "no page estimate: no count of distinct keys (an index led by the key, analysed, \
             gives the engine one; so does a single integer key's span)"
                .to_string()
        });
    }
    let others: Vec<String> = read
        .tables
        .iter()
        .filter(|t| **t != table_ref)
        .map(|t| t.name.name.clone())
        .collect();
    if !others.is_empty() {
        notes.push(format!(
            "the read joins {} too: only {source_name}, the table the ranges filter on, is \
             analysed here (the explain shows how the others are reached)",
            others.join(", ")
        ));
    }
    // Only a read known to be scattered gets DDL: without statistics, ANALYZE comes first.
    let covering_index = match (&verdict, &key_columns) {
        (Verdict::Scattered { .. }, Some(_)) if existing.is_some() => {
            if let Some(index) = existing {
                notes.push(D::unused_covering_index_hint(&table, index));
            }
            None
        }
        (Verdict::Scattered { .. }, Some(key)) => {
            covering_index::<D>(&table, key, &columns_read, &shape, &mut notes)
        }
        (Verdict::Scattered { .. }, None) => {
            notes.push(format!(
                "the ranges filter on an expression, not on columns of {source_name}: no index on \
                 its columns can serve them in order"
            ));
            None
        }
        _ => None,
    };

    Ok(SourceAccess::Analysed(Box::new(AccessPath {
        source: source_name,
        range_key: read.key.iter().map(|(k, _)| k.clone()).collect(),
        key_columns,
        columns_read,
        size: facts.size,
        order: facts.order,
        read_plan,
        estimate,
        sample,
        verdict,
        covering_index,
        pinned_index: pinned.map(|(index, _)| index),
        notes,
    })))
}

/// The key parts as columns of the source (`None` unless every part is one), and the other
/// columns of the source the read names, as the catalog spells them.
pub(super) fn resolve_columns(
    engine: Engine,
    read: &SourceRead,
    table: &TableRef,
    shape: &TableShape,
) -> (Option<Vec<String>>, Vec<String>) {
    // PostgreSQL names were folded as the server folds them and compare exactly; MySQL and
    // SQLite column names ignore case.
    let catalog_name = |name: &str| -> Option<String> {
        shape
            .columns
            .iter()
            .find(|c| {
                if engine == Engine::Postgres {
                    c.name == name
                } else {
                    c.name.eq_ignore_ascii_case(name)
                }
            })
            .map(|c| c.name.clone())
    };
    let resolve = |c: &ColumnRef| -> Option<String> {
        read.names_column_of(c, table, |n| catalog_name(n).is_some())
            .then(|| catalog_name(&c.column.name))
            .flatten()
    };
    let key: Option<Vec<String>> = read
        .key
        .iter()
        .map(|(_, c)| c.as_ref().and_then(resolve))
        .collect();
    let mut columns: Vec<String> = Vec::new();
    for c in &read.columns {
        if let Some(name) = resolve(c) {
            let is_key = key.as_ref().is_some_and(|k| k.contains(&name));
            if !is_key && !columns.contains(&name) {
                columns.push(name);
            }
        }
    }
    (key, columns)
}

/// Whether the ranges read the source in order: from an index alone (covered), along the
/// clustered key, or with a key correlated with the stored order; else scattered, or unknown
/// without statistics.
fn verdict(
    access: &ReadAccess,
    facts: &SourceFacts,
    key: Option<&[String]>,
    source: &str,
    engine: Engine,
) -> Verdict {
    if let ReadAccess::IndexOnly { index } = access {
        return Verdict::Covered {
            index: index.clone(),
        };
    }
    if *access == ReadAccess::ClusteredRange {
        return Verdict::InKeyOrder {
            reason: format!("each range is a range of {source}'s clustered key"),
        };
    }
    let first = key.and_then(|k| k.first());
    if let (Some(by), Some(first)) = (&facts.order.clustered_by, first) {
        if by.first().is_some_and(|b| b.eq_ignore_ascii_case(first)) {
            return Verdict::InKeyOrder {
                reason: format!(
                    "{source} stores its rows in order of its primary key ({}), which starts with \
                     {first}",
                    by.join(", ")
                ),
            };
        }
    }
    match &facts.order.correlation {
        Some(c) if c.value.abs() >= IN_ORDER_CORRELATION => Verdict::InKeyOrder {
            reason: format!(
                "{source} is stored close to key order (correlation {}): consecutive keys' rows \
                 share pages",
                super::correlation(c.value)
            ),
        },
        Some(c) => Verdict::Scattered {
            reason: format!(
                "the key's correlation with the stored order is {}: each range gathers its \
                 keys' rows from pages spread over {source}, one page read per row once the \
                 table outgrows the cache",
                super::correlation(c.value)
            ),
        },
        None if engine == Engine::Postgres && first.is_some() => Verdict::Unknown {
            reason: format!(
                "no statistics on {}: run ANALYZE {source} and plan again",
                first.map_or("the key", |f| f.as_str())
            ),
        },
        None => Verdict::Unknown {
            reason: "the key's order against the stored order could not be measured".to_string(),
        },
    }
}

/// The index that already holds every column read, led by the key columns in order: it needs
/// no twin.
pub(super) fn existing_covering_index<'i>(
    engine: Engine,
    indexes: &'i [(String, Vec<String>)],
    key: &[String],
    columns_read: &[String],
) -> Option<&'i str> {
    let same = |a: &str, b: &str| {
        if engine == Engine::Postgres {
            a == b
        } else {
            a.eq_ignore_ascii_case(b)
        }
    };
    indexes
        .iter()
        .find(|(_, cols)| {
            cols.len() >= key.len()
                && key.iter().zip(cols).all(|(k, c)| same(k, c))
                && columns_read.iter().all(|r| cols.iter().any(|c| same(c, r)))
        })
        .map(|(name, _)| name.as_str())
}

/// The covering index over `key` then the other `columns` read, with the engine's online
/// DDL; `None` (and a note) when a column cannot be in an index.
fn covering_index<D: Driver>(
    table: &TableName,
    key: &[String],
    columns: &[String],
    shape: &TableShape,
    notes: &mut Vec<String>,
) -> Option<CoveringIndex> {
    // MySQL/MariaDB index a TEXT or BLOB column only by a prefix, which cannot cover a read.
    if D::ENGINE == Engine::MySql {
        let unindexable: Vec<&str> = key
            .iter()
            .chain(columns)
            .filter_map(|c| shape.columns.iter().find(|s| &s.name == c))
            .filter(|c| {
                let t = c.base_type.to_ascii_lowercase();
                t.contains("text") || t.contains("blob") || t == "json" || t == "geometry"
            })
            .map(|c| c.name.as_str())
            .collect();
        if !unindexable.is_empty() {
            notes.push(format!(
                "no index can cover the read: {} can only be indexed by a prefix",
                unindexable.join(", ")
            ));
            return None;
        }
    }
    // At most 60 characters: every engine accepts it (MySQL's limit is 64).
    let name: String = format!("{}_{}_covering", table.name, key.join("_"))
        .chars()
        .take(60)
        .collect();
    let (ddl, note) = D::covering_index_ddl(table, &name, key, columns);
    Some(CoveringIndex {
        name,
        key: key.to_vec(),
        include: columns.to_vec(),
        ddl,
        note,
    })
}

/// Runs the read of one range in a transaction that is rolled back, fetching every row, and
/// times it.
async fn time_read<D: Driver>(
    conn: &mut Conn<D>,
    sql: &str,
    binds: &[crate::engine::Value],
    keys: u64,
) -> Result<RangeSample, sqlx::Error> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let started = Instant::now();
    let rows = D::Db::fetch_rows(&mut tx, crate::engine::io::query::<D>(sql, binds)).await;
    let elapsed = started.elapsed();
    tx.rollback().await?;
    Ok(RangeSample {
        keys,
        rows: rows?.len() as u64,
        elapsed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::PhysicalOrder;

    fn facts(clustered_by: Option<&[&str]>, correlation: Option<f64>) -> SourceFacts {
        SourceFacts {
            order: PhysicalOrder {
                clustered_by: clustered_by.map(|c| c.iter().map(|s| s.to_string()).collect()),
                correlation: correlation.map(|value| Correlation {
                    value,
                    source: CorrelationSource::Statistics,
                }),
            },
            ..SourceFacts::default()
        }
    }

    fn verdict_of(access: ReadAccess, facts: &SourceFacts, engine: Engine) -> Verdict {
        let key = ["user_id".to_string()];
        verdict(&access, facts, Some(&key), "events", engine)
    }

    #[test]
    fn an_index_only_read_is_covered_whatever_the_order() {
        let index = ReadAccess::IndexOnly {
            index: "ev_cover".into(),
        };
        assert_eq!(
            verdict_of(index, &facts(None, Some(0.0)), Engine::Postgres),
            Verdict::Covered {
                index: "ev_cover".into()
            }
        );
    }

    #[test]
    fn a_clustered_key_led_by_the_key_reads_in_order() {
        let bitmap = ReadAccess::Index { index: "i".into() };
        let by_user = facts(Some(&["USER_ID", "id"]), None);
        assert!(matches!(
            verdict_of(bitmap.clone(), &by_user, Engine::MySql),
            Verdict::InKeyOrder { .. }
        ));
        assert!(matches!(
            verdict_of(
                ReadAccess::ClusteredRange,
                &facts(None, None),
                Engine::Sqlite
            ),
            Verdict::InKeyOrder { .. }
        ));
        // Clustered by `id`: the correlation decides.
        let by_id = |c| facts(Some(&["id"]), Some(c));
        assert!(matches!(
            verdict_of(bitmap.clone(), &by_id(0.97), Engine::MySql),
            Verdict::InKeyOrder { .. }
        ));
        assert!(matches!(
            verdict_of(bitmap.clone(), &by_id(-0.95), Engine::MySql),
            Verdict::InKeyOrder { .. }
        ));
        assert!(matches!(
            verdict_of(bitmap, &by_id(0.3), Engine::MySql),
            Verdict::Scattered { .. }
        ));
    }

    #[test]
    fn without_statistics_postgres_asks_for_analyze() {
        let Verdict::Unknown { reason } =
            verdict_of(ReadAccess::FullScan, &facts(None, None), Engine::Postgres)
        else {
            panic!("unknown without pg_stats");
        };
        assert!(reason.contains("ANALYZE events"), "{reason}");
    }

    #[test]
    fn an_index_led_by_the_key_holding_every_column_read_is_found() {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let indexes = vec![
            ("ev_amount".to_string(), strings(&["amount", "user_id"])),
            ("ev_user".to_string(), strings(&["user_id", "id"])),
            (
                "ev_cover".to_string(),
                strings(&["User_Id", "amount", "id"]),
            ),
        ];
        let key = strings(&["user_id"]);
        let found = |engine, read: &[&str]| {
            existing_covering_index(engine, &indexes, &key, &strings(read)).map(str::to_string)
        };
        assert_eq!(found(Engine::MySql, &["amount"]), Some("ev_cover".into()));
        assert_eq!(found(Engine::MySql, &["id"]), Some("ev_user".into()));
        assert_eq!(found(Engine::MySql, &["amount", "note"]), None);
        // PostgreSQL names are exact: "User_Id" is another column.
        assert_eq!(found(Engine::Postgres, &["amount"]), None);
    }

    #[test]
    fn columns_resolve_against_the_catalog_as_the_engine_names_them() {
        let sql = "INSERT INTO \"t\" AS \"__t\" (\"k\", \"v\") SELECT e.user_id, sum(e.Amount), max(\"Note\"), count(DISTINCT kind) FROM events e JOIN users u ON u.id = e.user_id WHERE u.active AND e.user_id <= $1 GROUP BY e.user_id ON CONFLICT (\"k\") DO NOTHING";
        let read = source::source_read(sql, Engine::Postgres).expect("a read");
        let table = read.source_table().cloned().expect("events");
        let column = |name: &str| crate::engine::CatalogColumn {
            name: name.to_string(),
            sql_type: String::new(),
            base_type: String::new(),
            charset: None,
            required: false,
        };
        let shape = TableShape {
            columns: ["id", "user_id", "amount", "Note", "kind"]
                .into_iter()
                .map(column)
                .collect(),
            unique_keys: Vec::new(),
        };
        let (key, columns) = resolve_columns(Engine::Postgres, &read, &table, &shape);
        assert_eq!(key, Some(vec!["user_id".to_string()]));
        // `u.id` and `u.active` belong to users; `e.Amount` folds to `amount`; the quoted
        // "Note" keeps its case; a bare `kind` is a column of events.
        assert_eq!(columns, ["amount", "Note", "kind"]);
    }
}
