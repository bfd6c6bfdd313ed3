use backfill::Backfill;

/// A user's table function in `from`: its rows may change between runs.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e JOIN active_users() a ON a.id = e.user_id", engines = "postgres")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {}
