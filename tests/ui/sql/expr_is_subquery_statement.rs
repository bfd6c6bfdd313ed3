use backfill::Backfill;

/// A whole SELECT statement instead of an expression.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "SELECT count(*) FROM events")]
    pub event_count: i64,
}

fn main() {}
