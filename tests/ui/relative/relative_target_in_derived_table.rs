use backfill::Backfill;

/// A derived table in `from` reads the target: the stored totals feed their own recompute.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e JOIN (SELECT user_id, total_amount AS prev FROM user_stats) p ON p.user_id = e.user_id")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "max(p.prev) + sum(e.amount)")]
    pub total_amount: i64,
}

fn main() {}
