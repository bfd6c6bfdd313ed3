use backfill::Backfill;

/// MySQL's `uuid_short()`.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "uuid_short()")]
    pub refreshed_at: i64,
}

fn main() {}
