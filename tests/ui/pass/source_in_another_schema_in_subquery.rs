use backfill::Backfill;

/// `archive.user_stats` in a derived table is not the target `analytics.user_stats`.
#[derive(Backfill)]
#[backfill(table = "analytics.user_stats", from = "events e JOIN (SELECT user_id, total_amount FROM archive.user_stats) a ON a.user_id = e.user_id")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "max(a.total_amount) + sum(e.amount)")]
    pub total_amount: i64,
}

fn main() {}
