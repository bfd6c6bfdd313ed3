use backfill::Backfill;

/// A filter that depends on what the target already holds: a re-run sees other rows.
#[derive(Backfill)]
#[backfill(
    table = "user_stats",
    from = "events e",
    filter = "e.user_id NOT IN (SELECT user_id FROM user_stats)"
)]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {}
