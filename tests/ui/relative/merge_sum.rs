use backfill::Backfill;

/// A summing merge would be relative.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)", merge = "sum")]
    pub event_count: i64,
}

fn main() {}
