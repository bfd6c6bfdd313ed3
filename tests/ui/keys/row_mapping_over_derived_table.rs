use backfill::Backfill;

/// A row mapping over a derived table: the check cannot see that its rows are unique per key.
#[derive(Backfill)]
#[backfill(table = "last_order", from = "(SELECT user_id, total FROM orders) o")]
pub struct UserStats {
    #[backfill(key, expr = "o.user_id")]
    pub user_id: i64,
    #[backfill(expr = "o.total")]
    pub total: i64,
}

fn main() {}
