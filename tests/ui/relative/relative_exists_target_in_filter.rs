use backfill::Backfill;

/// A filter that skips users already in the target.
#[derive(Backfill)]
#[backfill(
    table = "user_stats",
    from = "events e",
    filter = "NOT EXISTS (SELECT 1 FROM user_stats s WHERE s.user_id = e.user_id)"
)]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {}
