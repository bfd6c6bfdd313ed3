use backfill::Backfill;

/// An unclosed parenthesis.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "sum(e.amount")]
    pub total_amount: i64,
}

fn main() {}
