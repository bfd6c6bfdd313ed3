//! Unit and snapshot tests of the statements, per mapping shape and engine.

use super::*;
use crate::model::{Backfill, Column, Engine, KeyKind, Merge, Strategy};

fn col(field: &str, expr: Option<&str>) -> Column {
    Column {
        field: field.to_string(),
        column: field.to_string(),
        rust_type: "i64".to_string(),
        key: None,
        merge: Merge::Overwrite,
        exprs: [expr, expr, expr].map(|e| e.map(str::to_string)),
    }
}

fn key(field: &str, expr: Option<&str>, kind: KeyKind) -> Column {
    Column {
        key: Some(kind),
        ..col(field, expr)
    }
}

fn backfill(table: &str, from: &str, columns: Vec<Column>) -> Backfill {
    Backfill {
        name: "T".to_string(),
        table: table.to_string(),
        from: Some(from.to_string()),
        in_place: false,
        filter: None,
        job: table.to_string(),
        batch_size: None,
        write_once: false,
        allow_other_unique_keys: false,
        grouped: false,
        engines: Engine::ALL.to_vec(),
        columns,
        schema: Vec::new(),
        strategy: Strategy::Auto,
    }
}

fn user_stats() -> Backfill {
    Backfill {
        grouped: true,
        filter: Some("kind <> 'test'".to_string()),
        ..backfill(
            "user_stats",
            "events",
            vec![
                key("user_id", None, KeyKind::Int),
                col("event_count", Some("count(*)")),
                col("total_amount", Some("sum(amount)")),
                col("last_seen", Some("max(created_at)")),
            ],
        )
    }
}

fn copy() -> Backfill {
    backfill(
        "orders_copy",
        "orders o",
        vec![
            key("id", Some("o.id"), KeyKind::Int),
            col("total", Some("o.total")),
            col("status", None),
        ],
    )
}

fn region_revenue() -> Backfill {
    Backfill {
        grouped: true,
        filter: Some("o.status <> 'cancelled'".to_string()),
        ..backfill(
            "reports.region_revenue",
            "orders o JOIN shops s ON s.id = o.shop_id",
            vec![
                key("shop_id", Some("o.shop_id"), KeyKind::Int),
                key("region", Some("s.region"), KeyKind::Text),
                col("orders", Some("count(*)")),
                col("revenue", Some("sum(o.total)")),
            ],
        )
    }
}

fn shop_seen() -> Backfill {
    let merged = |f, e, m| Column {
        merge: m,
        ..col(f, Some(e))
    };
    Backfill {
        grouped: true,
        ..backfill(
            "shop_seen",
            "orders",
            vec![
                key("shop_id", None, KeyKind::Int),
                merged("biggest", "max(total)", Merge::Greatest),
                merged("smallest", "min(total)", Merge::Least),
                merged("note", "'first seen by backfill'", Merge::Keep),
                col("orders", Some("count(*)")),
            ],
        )
    }
}

fn shop_settings() -> Backfill {
    Backfill {
        write_once: true,
        ..backfill(
            "shop_settings",
            "shops",
            vec![
                key("shop_id", Some("id"), KeyKind::Int),
                col("report_every", Some("'daily'")),
            ],
        )
    }
}

fn reserved_names() -> Backfill {
    let mut order = col("order_value", Some("total * 10"));
    order.column = "order".to_string();
    let mut label = col("label", None);
    label.column = "Label".to_string();
    backfill(
        "UserStats",
        "orders",
        vec![key("id", None, KeyKind::Int), order, label],
    )
}

/// `people.full_name` from the row's own columns, in place; a kept public id and a
/// greatest-merged score beside it.
fn in_place_own_rows() -> Backfill {
    let merged = |f, e, m| Column {
        merge: m,
        ..col(f, Some(e))
    };
    let mut full_name = col("full_name", Some("first_name || ' ' || last_name"));
    full_name.exprs[1] = Some("CONCAT(first_name, ' ', last_name)".to_string());
    Backfill {
        from: None,
        in_place: true,
        filter: Some("deleted_at IS NULL".to_string()),
        ..backfill(
            "people",
            "",
            vec![
                key("id", None, KeyKind::Int),
                full_name,
                merged("public_id", "gen_random_uuid()", Merge::Keep),
                merged("best_score", "score_a + score_b", Merge::Greatest),
            ],
        )
    }
}

/// `users.order_count` from `orders`, in place: existing rows only, grouped per key.
fn in_place_joined() -> Backfill {
    Backfill {
        in_place: true,
        grouped: true,
        ..backfill(
            "users",
            "users u LEFT JOIN orders o ON o.user_id = u.id",
            vec![
                key("id", Some("u.id"), KeyKind::Int),
                col("order_count", Some("count(o.id)")),
            ],
        )
    }
}

/// Per user from `events` joined to `users`: every aggregate the scan merges.
fn scan_mapping() -> Backfill {
    Backfill {
        grouped: true,
        filter: Some("e.kind <> 'test'".to_string()),
        ..backfill(
            "analytics.user_stats",
            "events e JOIN users u ON u.id = e.user_id",
            vec![
                key("user_id", Some("e.user_id"), KeyKind::Int),
                col("event_count", Some("count(*)")),
                col("total", Some("coalesce(sum(e.amount), 0)")),
                col("mean", Some("avg(e.amount)")),
                col("last_seen", Some("max(e.created_at)")),
                col("first_seen", Some("min(e.created_at)")),
                col("score", Some("count(e.amount) * 2 + 1")),
            ],
        )
    }
}

fn scan_snapshot(name: &str, model: &Backfill) {
    for engine in Engine::ALL {
        let text = render_scan(&statements(model, engine));
        insta::assert_snapshot!(format!("{name}_{}", engine.name()), text);
    }
}

#[test]
fn snapshot_scan_of_every_merged_aggregate() {
    scan_snapshot("scan", &scan_mapping());
}

#[test]
fn a_postgres_merge_reads_one_partial_per_key_without_grouping_unless_it_averages() {
    // Every merge but `avg`: count, sum (in an expression), max, min, bool_or, bit_or.
    let mut model = scan_mapping();
    model.columns.retain(|c| c.column != "mean");
    model
        .columns
        .push(col("flagged", Some("bool_or(e.flagged)")));
    model.columns.push(col("bits", Some("bit_or(e.bits)")));
    let s = statements(&model, Engine::Postgres);
    let scan = s.scan().expect("scanned");
    let one = scan
        .merge_one
        .first()
        .expect("a merge of one partial per key");
    assert_eq!(one.fingerprint, scan.merge.fingerprint, "the same job");
    let upsert = &one.upsert.next.sql;
    assert!(!upsert.contains("GROUP BY"), "{upsert}");
    assert!(scan.merge.upsert.next.sql.contains("GROUP BY"));
    let values = upsert
        .split(" FROM ")
        .next()
        .and_then(|insert| insert.split(" SELECT ").nth(1))
        .expect("an INSERT ... SELECT");
    assert_eq!(
        values,
        "\"__s\".\"k0\", CAST(\"__s\".\"p0\" AS BIGINT), coalesce(CAST(\"__s\".\"p1\" AS $$type p1$$), 0), \
         \"__s\".\"p2\", \"__s\".\"p3\", CAST(\"__s\".\"p4\" AS BIGINT) * 2 + 1, \"__s\".\"p5\", \"__s\".\"p6\""
            .replace("$$", &backfill_core::scan::MARK.to_string())
    );
    // Its insert is its upsert cut before the conflict clause, as everywhere on PostgreSQL.
    assert!(upsert.starts_with(&one.insert.next.sql));
    // An average divides sums of partials typed by the server: always grouped.
    assert!(statements(&scan_mapping(), Engine::Postgres)
        .scan()
        .expect("scanned")
        .merge_one
        .is_empty());
    for engine in [Engine::MySql, Engine::Sqlite] {
        assert!(statements(&model, engine)
            .scan()
            .expect("scanned")
            .merge_one
            .is_empty());
    }
}

#[test]
fn snapshot_scan_refusals() {
    let distinct = Backfill {
        columns: vec![
            key("user_id", None, KeyKind::Int),
            col("kinds", Some("count(DISTINCT kind)")),
        ],
        ..user_stats()
    };
    let outside = Backfill {
        columns: vec![
            key("user_id", None, KeyKind::Int),
            col("n", Some("count(*) + user_id")),
        ],
        ..user_stats()
    };
    let right = Backfill {
        from: Some("events e RIGHT JOIN users u ON u.id = e.user_id".to_string()),
        ..user_stats()
    };
    let ranges = Backfill {
        strategy: Strategy::Ranges,
        ..user_stats()
    };
    let mut text = String::new();
    for m in [distinct, outside, right, copy(), in_place_joined(), ranges] {
        text.push_str(&render_scan(&statements(&m, Engine::Postgres)));
    }
    let text_key = render_scan(&statements(&region_revenue(), Engine::Sqlite));
    text.push_str(&text_key);
    insta::assert_snapshot!("scan_refusals", text);
}

#[test]
fn snapshot_in_place_own_rows() {
    snapshot("in_place_own_rows", &in_place_own_rows());
}

#[test]
fn snapshot_in_place_joined() {
    snapshot("in_place_joined", &in_place_joined());
}

#[test]
fn in_place_updates_and_never_inserts() {
    for engine in Engine::ALL {
        for m in [in_place_own_rows(), in_place_joined()] {
            let s = statements(&m, engine);
            for stmt in [&s.upsert.first, &s.upsert.next, &s.upsert_all] {
                assert!(stmt.sql.starts_with("UPDATE "), "{engine:?}: {}", stmt.sql);
                assert!(!stmt.sql.contains("INSERT"), "{engine:?}: {}", stmt.sql);
            }
            // Coerced to the column's type on the server engines only.
            let holes = s.upsert.next.holes.len();
            assert_eq!(holes > 0, engine != Engine::Sqlite, "{engine:?}");
        }
    }
    let own = statements(&in_place_own_rows(), Engine::MySql);
    assert!(own.upsert.next.sql.starts_with(
        "UPDATE `people` SET `full_name` = (CONCAT(first_name, ' ', last_name)), `public_id` = CASE WHEN `public_id` IS NULL"
    ), "{}", own.upsert.next.sql);
    let joined = statements(&in_place_joined(), Engine::MySql);
    assert!(joined
        .upsert
        .next
        .sql
        .starts_with("UPDATE `users` AS `__t` JOIN (SELECT u.id AS `__k0`, count(o.id) AS `__v1` FROM users u LEFT JOIN orders o"));
    // Ranges of the joined form are cut on the target's own key.
    assert!(joined
        .bounds
        .next
        .sql
        .contains("FROM `users` AS `__t` WHERE `__t`.`id` IS NOT NULL AND `__t`.`id` > ?"));
}

fn snapshot(name: &str, model: &Backfill) {
    for engine in Engine::ALL {
        let text = render(&statements(model, engine));
        insta::assert_snapshot!(format!("{name}_{}", engine.name()), text);
    }
}

#[test]
fn snapshot_aggregate_mapping() {
    snapshot("aggregate", &user_stats());
}

#[test]
fn snapshot_one_to_one_copy() {
    snapshot("copy", &copy());
}

#[test]
fn snapshot_composite_key_join_and_filter() {
    snapshot("composite_join_filter", &region_revenue());
}

#[test]
fn snapshot_merge_columns() {
    snapshot("merge", &shop_seen());
}

#[test]
fn snapshot_on_conflict_nothing() {
    snapshot("on_conflict_nothing", &shop_settings());
}

#[test]
fn snapshot_reserved_and_mixed_case_identifiers() {
    snapshot("reserved_identifiers", &reserved_names());
}

#[test]
fn postgres_binds_each_param_once_and_mysql_repeats_them() {
    let m = region_revenue();
    let pg = statements(&m, Engine::Postgres);
    assert_eq!(
        pg.upsert.next.params,
        [
            Param::Cursor(0),
            Param::Cursor(1),
            Param::Hi(0),
            Param::Hi(1)
        ]
    );
    assert!(pg
        .upsert
        .next
        .sql
        .contains("(o.shop_id, s.region) > ($1, $2)"));
    assert!(pg
        .upsert
        .next
        .sql
        .contains("(o.shop_id, s.region) <= ($3, $4)"));
    let my = statements(&m, Engine::MySql);
    assert_eq!(
        my.upsert.next.params,
        [
            Param::Cursor(0),
            Param::Cursor(0),
            Param::Cursor(1),
            Param::Hi(0),
            Param::Hi(0),
            Param::Hi(1)
        ]
    );
    assert!(my
        .upsert
        .next
        .sql
        .contains("(o.shop_id > ? OR (o.shop_id = ? AND s.region > ?))"));
    assert_eq!(my.bounds.first.params, [Param::Limit]);
    assert_eq!(
        statements(&m, Engine::Sqlite).bounds.next.params,
        [Param::Cursor(0), Param::Cursor(1), Param::Limit]
    );
    for engine in Engine::ALL {
        let s = statements(&m, engine);
        for (name, stmt) in s.named() {
            let holes = match engine {
                Engine::Postgres => (1..=9)
                    .filter(|n| stmt.sql.contains(&format!("${n}")))
                    .count(),
                _ => stmt.sql.matches('?').count(),
            };
            assert_eq!(holes, stmt.params.len(), "{engine:?} {name}: {}", stmt.sql);
        }
        assert!(s.key_span.params.is_empty());
        assert!(s
            .verify_extra_tail
            .params
            .iter()
            .all(|p| matches!(p, Param::Cursor(_))));
    }
}

#[test]
fn fingerprint_changes_with_the_sql_and_differs_per_engine() {
    let a = statements(&user_stats(), Engine::Postgres);
    let mut changed = user_stats();
    changed.columns[2].exprs[0] = Some("sum(amount) * 2".to_string());
    let b = statements(&changed, Engine::Postgres);
    assert_eq!(a.fingerprint.len(), 16);
    assert_ne!(a.fingerprint, b.fingerprint);
    assert_ne!(
        a.fingerprint,
        statements(&user_stats(), Engine::Sqlite).fingerprint
    );
    assert_eq!(a, statements(&user_stats(), Engine::Postgres));
}

#[test]
fn write_once_and_keep_only_never_update() {
    let s = statements(&shop_settings(), Engine::Postgres);
    assert!(s
        .upsert
        .first
        .sql
        .ends_with("ON CONFLICT (\"shop_id\") DO NOTHING"));
    let s = statements(&shop_settings(), Engine::MySql);
    assert!(s
        .upsert
        .first
        .sql
        .ends_with("ON DUPLICATE KEY UPDATE `shop_id` = `shop_settings`.`shop_id`"));
    assert!(!s.upsert.first.sql.contains("IGNORE"));
}

#[test]
fn postgres_inserts_an_empty_range_with_the_upsert_cut_before_its_conflict_clause() {
    let mappings = [
        user_stats(),
        copy(),
        region_revenue(),
        shop_seen(),
        shop_settings(),
        reserved_names(),
    ];
    for model in &mappings {
        let s = statements(model, Engine::Postgres);
        for (insert, upsert) in [
            (&s.insert.first, &s.upsert.first),
            (&s.insert.next, &s.upsert.next),
        ] {
            let rest = upsert
                .sql
                .strip_prefix(insert.sql.as_str())
                .unwrap_or_else(|| panic!("{}: not a prefix of the upsert", insert.sql));
            assert!(rest.starts_with(" ON CONFLICT ("), "{rest}");
            assert!(!insert.sql.contains("ON CONFLICT"), "{}", insert.sql);
            assert_eq!(insert.params, upsert.params, "{}", insert.sql);
            assert_eq!(insert.holes, upsert.holes, "{}", insert.sql);
        }
        // Derived from the upsert, so not part of the fingerprint: a job started by a build
        // without it resumes.
        let mut without = statements(model, Engine::Postgres);
        without.insert.first.sql.clear();
        without.insert.next.sql.clear();
        assert_eq!(fingerprint(&without), s.fingerprint);
        for engine in [Engine::MySql, Engine::Sqlite] {
            let s = statements(model, engine);
            assert!(s.insert.first.sql.is_empty() && s.insert.next.sql.is_empty());
        }
    }
    for model in [in_place_own_rows(), in_place_joined()] {
        assert!(statements(&model, Engine::Postgres)
            .insert
            .next
            .sql
            .is_empty());
    }
}
