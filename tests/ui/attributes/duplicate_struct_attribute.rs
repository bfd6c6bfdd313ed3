use backfill::Backfill;

/// `table` given twice.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", table = "user_stats_v2")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {}
