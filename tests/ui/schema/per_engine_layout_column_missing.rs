use backfill::Backfill;

/// The MySQL layout lacks a column the PostgreSQL and SQLite ones have: the error names its folder.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", migrations = "tests/ui/schema/migrations/per_engine")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "sum(e.amount)")]
    pub total_amount: i64,
    #[backfill(expr = "max(e.amount)")]
    pub max_amount: Option<i64>,
}

fn main() {}
