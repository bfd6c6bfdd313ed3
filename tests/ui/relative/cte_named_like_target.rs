use backfill::Backfill;

/// A CTE named like the target hides it: the check cannot tell which one a value reads.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "(WITH user_stats AS (SELECT user_id, amount FROM events) SELECT * FROM user_stats) e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "sum(e.amount)")]
    pub total_amount: i64,
}

fn main() {}
