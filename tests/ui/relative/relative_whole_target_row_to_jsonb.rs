use backfill::Backfill;

/// The whole target row, written columns included.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e JOIN user_stats s ON s.user_id = e.user_id", engines = "postgres")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "max(CAST(to_jsonb(s) AS TEXT))")]
    pub snapshot: String,
}

fn main() {}
