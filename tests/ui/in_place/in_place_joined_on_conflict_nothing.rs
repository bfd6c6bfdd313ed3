use backfill::Backfill;

/// `in_place` with a `from` never inserts either: `on_conflict = "nothing"` is refused there too.
#[derive(Backfill)]
#[backfill(
    table = "users",
    from = "users u LEFT JOIN orders o ON o.user_id = u.id",
    in_place,
    on_conflict = "nothing"
)]
pub struct OrderCount {
    #[backfill(key, expr = "u.id")]
    pub id: i64,
    #[backfill(expr = "count(o.id)")]
    pub order_count: Option<i64>,
}

fn main() {}
