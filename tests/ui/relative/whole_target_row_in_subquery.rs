use backfill::Backfill;

/// The target's whole row, read inside a scalar subquery of a value.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e JOIN user_stats s ON s.user_id = e.user_id", engines = "postgres")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "max((SELECT to_jsonb(s)::text))")]
    pub snapshot: String,
}

fn main() {}
