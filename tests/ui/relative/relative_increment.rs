use backfill::Backfill;

/// An increment flag.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(increment)]
    pub event_count: i64,
}

fn main() {}
