use backfill::Backfill;

/// Four mistakes: each must be reported in the same build.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", batch_size = 0)]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "user_stats.event_count + count(*)")]
    pub event_count: i64,
    #[backfill(expr = "now()")]
    pub refreshed_at: chrono::NaiveDateTime,
    #[backfill(expr = "max(e.created_at)", merge = "max")]
    pub last_seen: chrono::NaiveDateTime,
}

fn main() {}
