use backfill::Backfill;

/// A CTE inside a derived table reads the target.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "(WITH prev AS (SELECT user_id, total_amount FROM user_stats) SELECT e.user_id, e.amount + prev.total_amount AS amount FROM events e JOIN prev ON prev.user_id = e.user_id) e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "sum(e.amount)")]
    pub total_amount: i64,
}

fn main() {}
