use backfill::Backfill;

/// `allow_volatile` accepts the bare clock keyword as it accepts `utc_timestamp()`.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", engines = "mysql")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "UTC_TIMESTAMP", allow_volatile)]
    pub refreshed_at: String,
}

fn main() {}
