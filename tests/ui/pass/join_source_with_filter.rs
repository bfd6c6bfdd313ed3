use backfill::Backfill;

/// Per-user totals over a join, with a filter on both sides.
#[derive(Backfill)]
#[backfill(
    table = "user_stats",
    from = "events e JOIN users u ON u.id = e.user_id",
    filter = "e.deleted_at IS NULL AND u.is_test = false",
    batch_size = 500
)]
pub struct UserStats {
    #[backfill(key, expr = "u.id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "coalesce(sum(e.amount), 0)")]
    pub total_amount: i64,
    #[backfill(expr = "max(e.created_at)")]
    pub last_seen: Option<chrono::NaiveDateTime>,
}

fn main() {}
