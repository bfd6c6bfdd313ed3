use backfill::Backfill;

/// A floating-point key cannot be a cursor.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.score")]
    pub score: f64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {}
