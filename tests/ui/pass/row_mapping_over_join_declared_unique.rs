use backfill::Backfill;

/// A join to a parent by its primary key: each order meets one user, declared.
#[derive(Backfill)]
#[backfill(table = "order_facts", from = "orders o JOIN users u ON u.id = o.user_id", source_key_unique)]
pub struct UserStats {
    #[backfill(key, expr = "o.id")]
    pub order_id: i64,
    #[backfill(expr = "u.country")]
    pub country: String,
}

fn main() {}
