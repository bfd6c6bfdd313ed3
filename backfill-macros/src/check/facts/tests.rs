//! The walker's facts per fragment and engine.

use super::*;

fn all(text: &str) -> Vec<Facts> {
    Engine::ALL
        .iter()
        .map(|e| {
            expr_facts(
                *e,
                &parse_expr(*e, text).unwrap_or_else(|err| panic!("{e:?}: {err}")),
            )
        })
        .collect()
}

#[test]
fn aggregates_and_columns_outside_them() {
    for f in all("sum(e.amount) + count(*) + bonus") {
        assert_eq!(f.aggregates, ["sum", "count"]);
        assert_eq!(f.outside_aggregate.len(), 1);
        assert_eq!(f.outside_aggregate[0].display(), "bonus");
        assert_eq!(f.unqualified, ["bonus"]);
    }
    for f in all("max(a, b)") {
        assert!(f.aggregates.is_empty());
    }
    for f in all("count(*) OVER ()") {
        assert!(f.aggregates.is_empty());
    }
}

#[test]
fn volatile_calls_and_keywords() {
    for text in [
        "now()",
        "CURRENT_TIMESTAMP",
        "current_date",
        "localtimestamp",
        "random() * 2",
        "coalesce(x, uuid())",
        "unix_timestamp()",
    ] {
        for f in all(text) {
            assert!(!f.volatile.is_empty(), "{text}: {f:?}");
        }
    }
    for f in all("datetime('now', '-1 day')") {
        assert_eq!(f.volatile, ["datetime('now')"]);
    }
    for text in [
        "unix_timestamp(created_at)",
        "'now()'",
        "datetime(created_at)",
    ] {
        for f in all(text) {
            assert!(f.volatile.is_empty(), "{text}: {f:?}");
        }
    }
}

fn order(engine: Engine, text: &str) -> Vec<OrderDependence> {
    let expr = parse_expr(engine, text).unwrap_or_else(|err| panic!("{engine:?}: {err}"));
    expr_facts(engine, &expr).order_dependent
}

#[test]
fn order_sensitive_aggregates_need_an_order_by_over_what_they_aggregate() {
    use OrderDependence::*;
    let pg = Engine::Postgres;
    for (engine, text) in [
        (pg, "string_agg(t.name, ',')"),
        (pg, "array_agg(DISTINCT t.name)"),
        (pg, "jsonb_agg(t.name) FILTER (WHERE t.ok)"),
        (Engine::MySql, "group_concat(t.name SEPARATOR ',')"),
        (Engine::Sqlite, "json_group_array(t.name)"),
        (pg, "1 + (SELECT length(string_agg(x.n, ',')) FROM x)"),
    ] {
        assert!(
            matches!(order(engine, text)[..], [UnorderedAggregate(_)]),
            "{text}"
        );
    }
    assert_eq!(
        order(pg, "string_agg(t.name, ',' ORDER BY t.created_at)"),
        [AggregateTie("string_agg".into(), "t.name".into())]
    );
    for (engine, text) in [
        (pg, "string_agg(t.name, ',' ORDER BY t.created_at, t.name)"),
        (pg, "string_agg(t.name, ',' ORDER BY name DESC)"),
        (pg, "string_agg(lower(t.name), ',' ORDER BY lower(t.name))"),
        (pg, "json_object_agg(t.k, t.v ORDER BY t.k, t.v)"),
        (pg, "listagg(t.name, ',') WITHIN GROUP (ORDER BY t.name)"),
        (
            Engine::MySql,
            "group_concat(t.name ORDER BY t.name SEPARATOR ',')",
        ),
        (Engine::Sqlite, "group_concat(t.name, ',' ORDER BY t.name)"),
        (pg, "string_agg('x', ',')"),
        (pg, "count(*) + sum(t.amount) + max(t.name)"),
    ] {
        assert_eq!(order(engine, text), [], "{text}");
    }
    assert_eq!(order(pg, "any_value(t.name)"), [AnyValue]);
}

#[test]
fn picking_rows_needs_an_order_by_over_what_is_picked() {
    use OrderDependence::*;
    let pg = Engine::Postgres;
    assert_eq!(
        order(pg, "(SELECT u.name FROM u WHERE u.id = e.id LIMIT 1)"),
        [UnorderedPick("LIMIT 1".into())]
    );
    assert_eq!(
        order(
            pg,
            "(SELECT u.name FROM u ORDER BY u.created_at DESC LIMIT 1)"
        ),
        [PickTie("LIMIT 1".into(), "u.name".into())]
    );
    assert_eq!(
        order(pg, "(SELECT u.name FROM u ORDER BY u.id OFFSET 2)"),
        [PickTie("OFFSET 2".into(), "u.name".into())]
    );
    assert_eq!(
        order(
            pg,
            "e.id IN (SELECT u.id FROM u ORDER BY u.score FETCH FIRST 10 ROWS ONLY)"
        ),
        [PickTie("FETCH FIRST 10 ROWS ONLY".into(), "u.id".into())]
    );
    assert_eq!(
        order(
            pg,
            "e.id IN (SELECT u.id FROM u ORDER BY u.score OFFSET 5 ROWS FETCH FIRST 10 ROWS WITH TIES)"
        )
        .len(),
        1,
        "an OFFSET can cut through a tie"
    );
    assert_eq!(
        order(pg, "(SELECT * FROM u ORDER BY u.id LIMIT 1) IS NULL"),
        [PickTie("LIMIT 1".into(), "*".into())]
    );
    for text in [
        "(SELECT u.name FROM u ORDER BY u.created_at DESC, u.name LIMIT 1)",
        "(SELECT lower(u.name) AS n FROM u ORDER BY n LIMIT 1)",
        "(SELECT u.name FROM u ORDER BY 1 LIMIT 1)",
        "EXISTS (SELECT 1 FROM u WHERE u.id = e.id LIMIT 1)",
        "(SELECT count(*) FROM u LIMIT 1)",
        "(SELECT u.g FROM u GROUP BY u.g ORDER BY u.g LIMIT 1)",
        "(SELECT u.name FROM u WHERE u.id = e.id)",
        "e.id IN (SELECT u.id FROM u ORDER BY u.score DESC FETCH FIRST 10 ROWS WITH TIES)",
    ] {
        assert_eq!(order(pg, text), [], "{text}");
    }
    let from = |text: &str| facts(pg, &parse_from(pg, text).unwrap()).order_dependent;
    assert_eq!(
        from("(SELECT DISTINCT ON (user_id) user_id, amount FROM events) e"),
        [UnorderedPick("DISTINCT ON".into())]
    );
    assert_eq!(
        from("(SELECT DISTINCT ON (user_id) user_id, amount FROM events ORDER BY user_id, created_at DESC) e"),
        [PickTie("DISTINCT ON".into(), "amount".into())]
    );
    assert_eq!(from("events e TABLESAMPLE BERNOULLI (10)"), [Sample]);
    assert_eq!(
        from("events e JOIN (SELECT id FROM users ORDER BY id LIMIT 10) u ON u.id = e.user_id"),
        []
    );
}

fn on(engine: Engine, text: &str) -> Facts {
    expr_facts(
        engine,
        &parse_expr(engine, text).unwrap_or_else(|err| panic!("{err}")),
    )
}

#[test]
fn clock_keywords_functions_and_variables() {
    // Bare MySQL clock keywords: the clock on MySQL, a column elsewhere.
    for word in ["UTC_TIMESTAMP", "utc_date", "UTC_TIME"] {
        assert_eq!(
            on(Engine::MySql, word).volatile,
            [word.to_ascii_lowercase()]
        );
        assert!(on(Engine::Postgres, word).volatile.is_empty(), "{word}");
        assert!(on(Engine::MySql, &format!("`{word}`")).volatile.is_empty());
    }
    for text in [
        "uuidv7()",
        "uuid_generate_v1()",
        "gen_random_bytes(16)",
        "random_normal()",
        "uuid_short()",
        "sys_guid()",
        "age(u.born)",
    ] {
        assert!(!on(Engine::Postgres, text).volatile.is_empty(), "{text}");
    }
    for text in ["age(u.died, u.born)", "uuid_generate_v5(u.ns, u.name)"] {
        assert!(on(Engine::Postgres, text).volatile.is_empty(), "{text}");
    }
    assert_eq!(on(Engine::MySql, "@@timestamp").variables, ["@@timestamp"]);
    assert_eq!(
        on(Engine::MySql, "@@session.time_zone").variables,
        ["@@session.time_zone"]
    );
    assert_eq!(
        on(Engine::MySql, "@n := @n + 1").variables,
        ["@n", "@n", "@n"]
    );
    assert_eq!(on(Engine::MySql, "coalesce(@x, 1)").variables, ["@x"]);
    assert_eq!(on(Engine::Sqlite, "@x").variables, ["@x"]);
    // PostgreSQL's prefix `@` is the absolute value.
    assert!(on(Engine::Postgres, "@ u.delta").variables.is_empty());
}

#[test]
fn qualifiers_relations_and_values_calls() {
    for f in all("(SELECT max(x) FROM s.user_stats u WHERE u.id = e.id) + user_stats.total") {
        assert_eq!(
            f.relations,
            [vec!["s".to_string(), "user_stats".to_string()]]
        );
        let q: Vec<_> = f.qualified.iter().map(ColumnRef::display).collect();
        assert_eq!(q, ["u.id", "e.id", "user_stats.total"]);
        // Inside the subquery: not a top-level column.
        assert_eq!(f.outside_aggregate.len(), 1);
    }
    let f = expr_facts(
        Engine::MySql,
        &parse_expr(Engine::MySql, "VALUES(total) + 1").unwrap(),
    );
    assert_eq!(f.values_calls.len(), 1);
    assert_eq!(
        all("e.total")[0]
            .single_column
            .as_ref()
            .map(ColumnRef::display)
            .as_deref(),
        Some("e.total")
    );
}

#[test]
fn trailing_text_comments_and_placeholders_are_refused() {
    assert!(parse_expr(Engine::Postgres, "sum(a) sum(b)").is_err());
    assert!(parse_expr(Engine::Postgres, "sum(a); DROP TABLE x").is_err());
    assert!(parse_expr(Engine::Postgres, "sum(a) -- total").is_err());
    assert!(parse_expr(Engine::MySql, "a > ?").is_err());
    assert!(parse_expr(Engine::Postgres, "a > $1").is_err());
    assert!(parse_from(
        Engine::Postgres,
        "events e JOIN users u ON u.id = e.user_id"
    )
    .is_ok());
    assert!(parse_from(Engine::Postgres, "events WHERE x = 1").is_err());
}

/// The unknown calls of `text` parsed for `engine`.
fn unknown(engine: Engine, text: &str) -> Vec<String> {
    let expr = parse_expr(engine, text).unwrap_or_else(|err| panic!("{engine:?}: {err}"));
    expr_facts(engine, &expr).unknown_functions
}

/// One family of the allowlist per test: its members are accepted on the engines that have
/// them, a near neighbour that is not deterministic (or not the engine's) is refused.
fn accepted(engines: &[Engine], texts: &[&str]) {
    for &engine in engines {
        for text in texts {
            assert_eq!(
                unknown(engine, text),
                Vec::<String>::new(),
                "{engine:?}: {text}"
            );
        }
    }
}

#[test]
fn allowlist_string_functions() {
    accepted(
        &Engine::ALL,
        &[
            "lower(trim(u.email))",
            "upper(replace(a, 'x', 'y'))",
            "length(a) + abs(b)",
        ],
    );
    accepted(
        &[Engine::Postgres],
        &["split_part(a, '@', 2) || initcap(b)", "md5(a)"],
    );
    accepted(
        &[Engine::MySql],
        &["concat_ws('-', a, b)", "substring_index(a, '@', -1)"],
    );
    accepted(
        &[Engine::Sqlite],
        &["printf('%d', a) || unicode(b)", "concat(a, b)"],
    );
    assert_eq!(unknown(Engine::Sqlite, "initcap(a)"), ["initcap"]);
    assert_eq!(
        unknown(Engine::MySql, "split_part(a, '@', 2)"),
        ["split_part"]
    );
}

#[test]
fn allowlist_numeric_functions() {
    accepted(
        &Engine::ALL,
        &["abs(a) + round(b, 2)", "coalesce(nullif(a, 0), 1)"],
    );
    accepted(
        &[Engine::Postgres],
        &["width_bucket(a, 0, 100, 10)", "trunc(a, 2)"],
    );
    accepted(
        &[Engine::MySql],
        &["truncate(a, 2) + crc32(b)", "conv(a, 10, 16)"],
    );
    accepted(&[Engine::Sqlite], &["abs(a) + sign(b)", "iif(a > 0, 1, 0)"]);
    // MySQL's RAND(seed from the row) is a function of the row; a constant seed is not.
    accepted(&[Engine::MySql], &["rand(u.id)"]);
}

#[test]
fn allowlist_date_functions_with_a_time_value() {
    accepted(
        &[Engine::Postgres],
        &["date_trunc('day', created_at)", "make_date(y, m, d)"],
    );
    accepted(
        &[Engine::MySql],
        &["date_format(created_at, '%Y')", "datediff(a, b)"],
    );
    accepted(
        &[Engine::Sqlite],
        &["date(created_at)", "strftime('%Y', created_at)"],
    );
    for f in all("date(created_at)") {
        assert!(f.volatile.is_empty());
    }
}

#[test]
fn allowlist_json_functions() {
    accepted(
        &[Engine::Postgres],
        &["jsonb_build_object('a', a)", "jsonb_set(j, '{a}', '1')"],
    );
    accepted(
        &[Engine::MySql],
        &["json_object('a', a)", "json_extract(j, '$.a')"],
    );
    accepted(
        &[Engine::Sqlite],
        &["json_object('a', a)", "json_extract(j, '$.a')"],
    );
}

#[test]
fn allowlist_aggregates() {
    accepted(
        &Engine::ALL,
        &["count(*) + sum(a) + max(b) + min(c) + avg(d)"],
    );
    accepted(
        &[Engine::Postgres],
        &["bool_and(a)", "string_agg(a, ',' ORDER BY a)"],
    );
    accepted(
        &[Engine::MySql],
        &["group_concat(a ORDER BY a)", "bit_or(a)"],
    );
    accepted(&[Engine::Sqlite], &["total(a)", "group_concat(a, ',')"]);
}

#[test]
fn allowlist_pg_catalog_qualified_and_user_functions() {
    accepted(&[Engine::Postgres], &["pg_catalog.lower(a)"]);
    for engine in Engine::ALL {
        assert_eq!(unknown(engine, "slugify(a)"), ["slugify"]);
        assert_eq!(unknown(engine, "util.lower(a)"), ["util.lower"]);
    }
    assert_eq!(
        unknown(Engine::Postgres, "a OPERATOR(util.+) b"),
        ["OPERATOR(util.+)"]
    );
}

#[test]
fn volatile_calls_are_reported_once_not_as_unknown() {
    for text in [
        "now()",
        "random()",
        "coalesce(x, uuid())",
        "age(created_at)",
    ] {
        for engine in Engine::ALL {
            assert!(unknown(engine, text).is_empty(), "{engine:?}: {text}");
        }
    }
}

#[test]
fn ctes_and_whole_rows_in_subqueries() {
    let f = &all("(SELECT to_jsonb(s) FROM (SELECT 1) AS x)")[0];
    assert!(f.unqualified_anywhere.contains(&"s".to_string()));
    assert!(!f.unqualified.contains(&"s".to_string()));
    let f = &all("(WITH user_stats AS (SELECT 1 AS a) SELECT a FROM user_stats)")[0];
    assert_eq!(f.ctes, ["user_stats"]);
}

#[test]
fn from_fan_out() {
    let from = |text: &str| {
        let parsed = parse_from(Engine::Postgres, text).unwrap();
        from_facts(Engine::Postgres, &parsed).fan_out
    };
    assert_eq!(from("events e"), None);
    assert_eq!(
        from("users u JOIN orders o ON o.user_id = u.id").as_deref(),
        Some("orders o")
    );
    assert_eq!(from("users u, orders o").as_deref(), Some("orders o"));
    assert!(from("unnest(ARRAY[1, 2]) AS t(x)").is_some());
    assert!(from("(SELECT 1 AS id) AS d").is_some());
}
