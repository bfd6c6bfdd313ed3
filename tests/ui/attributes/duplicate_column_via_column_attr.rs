use backfill::Backfill;

/// Two fields write the same target column.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(column = "event_count", expr = "count(DISTINCT e.session_id)")]
    pub sessions: i64,
}

fn main() {}
