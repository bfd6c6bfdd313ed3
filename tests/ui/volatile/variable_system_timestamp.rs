use backfill::Backfill;

/// The system variable `@@timestamp` is the statement's time.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", engines = "mysql")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "FROM_UNIXTIME(@@timestamp)")]
    pub refreshed_at: String,
}

fn main() {}
