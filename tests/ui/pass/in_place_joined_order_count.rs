use backfill::Backfill;

/// `in_place` with a `from` that starts from the target itself: every user gets a count, 0 when
/// it has no orders; reading the target's other columns through its alias is fine.
#[derive(Backfill)]
#[backfill(
    table = "users",
    from = "users u LEFT JOIN orders o ON o.user_id = u.id",
    in_place
)]
pub struct OrderCount {
    #[backfill(key, expr = "u.id")]
    pub id: i64,
    #[backfill(expr = "count(o.id)")]
    pub order_count: Option<i64>,
}

fn main() {}
