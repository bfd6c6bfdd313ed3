use backfill::Backfill;

/// A bare column next to an aggregate in one expression.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "sum(e.amount) * e.rate")]
    pub total_amount: i64,
}

fn main() {}
