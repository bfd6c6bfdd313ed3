use backfill::Backfill;

/// Only ranges, scan and auto are strategies.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", strategy = "parallel")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {}
