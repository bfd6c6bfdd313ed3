use backfill::Backfill;

/// A LATERAL subquery in `from` reads the target.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e, LATERAL (SELECT s.total_amount FROM user_stats s WHERE s.user_id = e.user_id) p", engines = "postgres")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "max(p.total_amount) + sum(e.amount)")]
    pub total_amount: i64,
}

fn main() {}
