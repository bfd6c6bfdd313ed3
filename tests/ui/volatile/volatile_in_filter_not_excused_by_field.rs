use backfill::Backfill;

/// `allow_volatile` on a field does not cover the filter.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", filter = "e.created_at > current_timestamp")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "now()", allow_volatile)]
    pub refreshed_at: chrono::NaiveDateTime,
}

fn main() {}
