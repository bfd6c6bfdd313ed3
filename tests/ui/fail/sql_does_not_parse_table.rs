use backfill::Backfill;

/// A target that is not a table name.
#[derive(Backfill)]
#[backfill(table = "user stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {}
