use backfill::Backfill;

/// A subquery in a JOIN's ON clause reads the target: which rows join depends on what was written.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e JOIN users u ON u.id = e.user_id AND e.amount > (SELECT avg(total_amount) FROM user_stats)")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "sum(e.amount)")]
    pub total_amount: i64,
}

fn main() {}
