use backfill::Backfill;

/// A filter that names the target table.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", filter = "user_stats.event_count < 10")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {}
