use backfill::Backfill;

/// `country` defaults to the source column of that name, outside any aggregate.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "sum(e.amount)")]
    pub total_amount: i64,
    pub country: String,
}

fn main() {}
