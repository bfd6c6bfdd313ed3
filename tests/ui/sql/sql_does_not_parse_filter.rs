use backfill::Backfill;

/// A filter cut short.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", filter = "e.deleted_at IS NOT")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {}
