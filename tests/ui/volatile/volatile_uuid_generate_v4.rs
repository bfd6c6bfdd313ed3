use backfill::Backfill;

/// uuid-ossp's `uuid_generate_v4()`.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "uuid_generate_v4()")]
    pub refreshed_at: String,
}

fn main() {}
