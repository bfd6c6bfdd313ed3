use backfill::Backfill;

/// Two renamed fields write the same target column.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(column = "n", expr = "count(*)")]
    pub event_count: i64,
    #[backfill(column = "n", expr = "count(DISTINCT e.session_id)")]
    pub sessions: i64,
}

fn main() {}
