use backfill::{Backfill, Strategy};

/// Every aggregate the scan merges, a join, a filter and expressions over aggregates.
#[derive(Backfill)]
#[backfill(
    table = "user_stats",
    from = "events e JOIN users u ON u.id = e.user_id LEFT JOIN plans p ON p.id = u.plan_id",
    filter = "e.kind <> 'test'",
    strategy = "scan"
)]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "coalesce(sum(e.amount), 0) + 1")]
    pub total: i64,
    #[backfill(expr = "avg(e.amount)")]
    pub mean: Option<f64>,
    #[backfill(expr = "max(e.created_at)")]
    pub last_seen: Option<chrono::NaiveDateTime>,
    #[backfill(expr = "min(p.name)")]
    pub plan: Option<String>,
}

/// `count(DISTINCT ...)` is fine for the ranges, and for `auto`, which falls back to them.
#[derive(Backfill)]
#[backfill(table = "user_kinds", from = "events e")]
pub struct UserKinds {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(DISTINCT e.kind)")]
    pub kinds: i64,
}

fn main() {
    let scan = UserStats::definition();
    assert_eq!(scan.strategy, Strategy::Scan);
    for engine in [backfill::Engine::Postgres, backfill::Engine::MySql, backfill::Engine::Sqlite] {
        let stmts = scan.statements(engine).expect("generated for every engine");
        assert!(stmts.scan().is_some(), "{engine:?}: {:?}", stmts.scan_refused);
    }
    let auto = UserKinds::definition();
    assert_eq!(auto.strategy, Strategy::Auto);
    let stmts = auto.statements(backfill::Engine::Postgres).unwrap();
    assert!(stmts.scan().is_none());
    assert!(stmts.scan_refused.unwrap().contains("count(DISTINCT e.kind)"));
}
