use backfill::Backfill;

/// MySQL's `rand()`.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "rand()")]
    pub refreshed_at: f64,
}

fn main() {}
