use backfill::Backfill;

/// In place with a `from` that starts from the target (`users u`), `u.order_count` is the
/// stored value this field replaces: every re-run adds the orders again.
#[derive(Backfill)]
#[backfill(
    table = "users",
    from = "users u LEFT JOIN orders o ON o.user_id = u.id",
    in_place
)]
pub struct OrderCount {
    #[backfill(key, expr = "u.id")]
    pub id: i64,
    #[backfill(expr = "max(u.order_count) + count(o.id)")]
    pub order_count: Option<i64>,
}

fn main() {}
