use backfill::Backfill;

/// Uses the upsert's EXCLUDED row, which only exists in the conflict clause.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "EXCLUDED.event_count + count(*)")]
    pub event_count: i64,
}

fn main() {}
