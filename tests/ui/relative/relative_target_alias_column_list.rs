use backfill::Backfill;

/// An alias column list renames the target's columns: `s.prev` is `total_amount`.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e JOIN user_stats AS s (uid, prev) ON s.uid = e.user_id", engines = "postgres")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "max(s.prev) + sum(e.amount)")]
    pub total_amount: i64,
}

fn main() {}
