use backfill::Backfill;

/// An aggregate in the row filter (belongs in HAVING).
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", filter = "count(*) > 1")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {}
