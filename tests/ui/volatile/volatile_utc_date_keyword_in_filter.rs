use backfill::Backfill;

/// `UTC_DATE` without parentheses in the filter: a moving window.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", engines = "mysql", filter = "e.created_at < UTC_DATE")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {}
