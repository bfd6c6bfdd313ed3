use backfill::Backfill;

/// A user variable in the filter: whatever the session set.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", engines = "mysql", filter = "e.created_at > @since")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {}
