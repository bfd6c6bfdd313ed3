//! The replay, statement family by statement family, per dialect.

use super::replay::replay;
use super::*;

fn schema(engine: Engine, text: &str) -> Schema {
    let mut s = Schema::default();
    replay(engine, &mut s, text).unwrap_or_else(|e| panic!("{engine:?}: {e:?}"));
    s
}

fn name(n: &str) -> Vec<String> {
    n.split('.').map(str::to_string).collect()
}

use crate::model::Engine;

#[test]
fn create_table_columns_keys_and_defaults() {
    for engine in Engine::ALL {
        let s = schema(
            engine,
            "CREATE TABLE user_stats (
                user_id BIGINT NOT NULL PRIMARY KEY,
                event_count INTEGER NOT NULL DEFAULT 0,
                note TEXT,
                email VARCHAR(255) NOT NULL UNIQUE
            );",
        );
        let t = s.table(&name("user_stats")).unwrap();
        assert_eq!(t.columns.len(), 4);
        let c = t.column("EVENT_COUNT").unwrap();
        assert!(c.not_null && c.has_default, "{engine:?}");
        assert_eq!(c.data_type, "INTEGER");
        assert!(!t.column("note").unwrap().not_null);
        assert_eq!(t.unique_keys.len(), 2, "{engine:?}");
        assert!(t.unique_keys[0].primary);
    }
}

#[test]
fn alter_table_add_drop_rename_and_alter_column() {
    let s = schema(
        Engine::Postgres,
        "CREATE TABLE t (id BIGINT PRIMARY KEY, a INT);
         ALTER TABLE t ADD COLUMN b TEXT NOT NULL DEFAULT '';
         ALTER TABLE t RENAME COLUMN a TO c;
         ALTER TABLE t ALTER COLUMN c SET NOT NULL;
         ALTER TABLE t ALTER COLUMN c TYPE BIGINT;
         ALTER TABLE t DROP COLUMN b;
         ALTER TABLE t RENAME TO u;",
    );
    let t = s.table(&name("u")).unwrap();
    assert!(s.table(&name("t")).is_none());
    assert_eq!(
        t.columns
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["id", "c"]
    );
    let c = t.column("c").unwrap();
    assert!(c.not_null);
    assert_eq!(c.data_type, "BIGINT");
}

#[test]
fn mysql_modify_change_and_auto_increment() {
    let s = schema(
        Engine::MySql,
        "CREATE TABLE t (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT, a INT, PRIMARY KEY (id));
         ALTER TABLE t MODIFY COLUMN a BIGINT NOT NULL;
         ALTER TABLE t CHANGE COLUMN a b VARCHAR(10) NULL;
         ALTER TABLE t ADD UNIQUE KEY uk_b (b);",
    );
    let t = s.table(&name("t")).unwrap();
    assert!(t.column("id").unwrap().has_default);
    let b = t.column("b").unwrap();
    assert!(!b.not_null);
    assert_eq!(b.data_type, "VARCHAR(10)");
    assert_eq!(t.unique_keys[1].columns, ["b"]);
    assert_eq!(t.unique_keys[1].name.as_deref(), Some("uk_b"));
}

#[test]
fn indexes_created_and_dropped() {
    let s = schema(
        Engine::Postgres,
        "CREATE TABLE t (id BIGINT, email TEXT);
         CREATE UNIQUE INDEX t_email ON t (email);
         CREATE UNIQUE INDEX t_lower ON t (lower(email));
         CREATE INDEX t_plain ON t (id);
         DROP INDEX t_email;",
    );
    let t = s.table(&name("t")).unwrap();
    assert_eq!(t.unique_keys.len(), 1);
    assert!(
        t.unique_keys[0].columns.is_empty(),
        "an expression index has no plain columns"
    );
}

#[test]
fn schemas_qualify_tables_and_unrelated_statements_change_nothing() {
    let s = schema(
        Engine::Postgres,
        "CREATE SCHEMA analytics;
         CREATE TABLE analytics.user_stats (user_id BIGINT PRIMARY KEY);
         CREATE TABLE archive.user_stats (user_id BIGINT, old INT);
         INSERT INTO analytics.user_stats VALUES (1);
         GRANT SELECT ON analytics.user_stats TO reader;
         COMMENT ON TABLE analytics.user_stats IS 'stats; per user';",
    );
    assert_eq!(s.tables.len(), 2);
    assert!(s
        .table(&name("archive.user_stats"))
        .unwrap()
        .column("old")
        .is_some());
    assert!(s
        .table(&name("analytics.user_stats"))
        .unwrap()
        .column("old")
        .is_none());
}

#[test]
fn an_unreadable_statement_names_its_line_unless_skipped() {
    let mut s = Schema::default();
    let text = "CREATE TABLE t (id BIGINT);\n\nDO $$ BEGIN PERFORM 1; END $$;\n";
    let (line, message) = replay(Engine::Postgres, &mut s, text).unwrap_err();
    assert_eq!(line, 3);
    assert!(message.contains("found: DO"), "{message}");
    let mut s = Schema::default();
    let text = "CREATE TABLE t (id BIGINT);\n-- backfill: skip (a data fix)\nDO $$ BEGIN PERFORM 1; END $$;\n";
    assert_eq!(replay(Engine::Postgres, &mut s, text).unwrap(), vec![3]);
}

#[test]
fn altering_a_table_that_does_not_exist_is_an_error() {
    let mut s = Schema::default();
    let (line, message) =
        replay(Engine::Sqlite, &mut s, "ALTER TABLE nope ADD COLUMN a INT;").unwrap_err();
    assert_eq!(line, 1);
    assert!(message.contains("`nope`"), "{message}");
}
