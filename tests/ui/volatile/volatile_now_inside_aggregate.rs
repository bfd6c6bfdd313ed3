use backfill::Backfill;

/// A volatile call nested inside an aggregate.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "max(coalesce(e.created_at, now()))")]
    pub refreshed_at: chrono::NaiveDateTime,
}

fn main() {}
