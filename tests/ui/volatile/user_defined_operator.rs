use backfill::Backfill;

/// A user-defined operator calls a function of unknown volatility.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", engines = "postgres")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "sum(e.amount OPERATOR(util.+) 1)")]
    pub total_amount: i64,
}

fn main() {}
