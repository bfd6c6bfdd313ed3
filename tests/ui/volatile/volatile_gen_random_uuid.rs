use backfill::Backfill;

/// PostgreSQL's `gen_random_uuid()`.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "gen_random_uuid()")]
    pub refreshed_at: String,
}

fn main() {}
