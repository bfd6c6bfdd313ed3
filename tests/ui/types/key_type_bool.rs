use backfill::Backfill;

/// A boolean key.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.is_test")]
    pub is_test: bool,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {}
