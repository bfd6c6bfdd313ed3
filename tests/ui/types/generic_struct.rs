use backfill::Backfill;

/// The statements are built at compile time for one concrete struct.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats<T> {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "sum(e.amount)")]
    pub total_amount: T,
}

fn main() {}
