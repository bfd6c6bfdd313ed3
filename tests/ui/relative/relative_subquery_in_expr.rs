use backfill::Backfill;

/// A subquery that reads the value being replaced.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*) + (SELECT s.event_count FROM user_stats s WHERE s.user_id = e.user_id)")]
    pub event_count: i64,
}

fn main() {}
