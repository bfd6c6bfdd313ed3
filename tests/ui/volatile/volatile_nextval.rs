use backfill::Backfill;

/// A sequence value.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "nextval('user_stats_seq')")]
    pub refreshed_at: i64,
}

fn main() {}
