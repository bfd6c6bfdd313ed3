use backfill::Backfill;

/// PostgreSQL 16's `random_normal()`.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", engines = "postgres")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "random_normal()")]
    pub noise: f64,
}

fn main() {}
