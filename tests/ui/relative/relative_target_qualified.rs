use backfill::Backfill;

/// Adds this run's events to the stored count: counts twice when a batch is re-run.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "user_stats.event_count + 1")]
    pub event_count: i64,
}

fn main() {}
