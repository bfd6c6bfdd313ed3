use backfill::Backfill;

/// MariaDB's `/*M! ... */` in `from`, joining the target.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e /*M! JOIN user_stats s ON s.user_id = e.user_id */")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {}
