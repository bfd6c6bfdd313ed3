use backfill::Backfill;

/// In place updates existing rows over key ranges of the target.
#[derive(Backfill)]
#[backfill(
    table = "users",
    from = "users u LEFT JOIN orders o ON o.user_id = u.id",
    in_place,
    strategy = "scan"
)]
pub struct OrderCount {
    #[backfill(key, expr = "u.id")]
    pub id: i64,
    #[backfill(expr = "count(o.id)")]
    pub order_count: i64,
}

fn main() {}
