use backfill::Backfill;

/// Same as `relative_excluded`, spelled in lowercase.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "excluded.event_count + count(*)")]
    pub event_count: i64,
}

fn main() {}
