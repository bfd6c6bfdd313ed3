use backfill::Backfill;

/// A moving window in MySQL syntax: a re-run an hour later touches other rows.
#[derive(Backfill)]
#[backfill(
    table = "user_stats",
    from = "events e",
    engines = "mysql",
    filter = "e.created_at > now() - INTERVAL 1 DAY"
)]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {}
