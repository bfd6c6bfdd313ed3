use backfill::Backfill;

/// An engine backfill does not support.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", engines = "postgres, oracle")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {}
