use backfill::Backfill;

/// In place without `from`, each row is computed from its own columns: an aggregate has no rows
/// to aggregate (it needs a `from` grouped per key, with `in_place`).
#[derive(Backfill)]
#[backfill(table = "users")]
pub struct OrderCount {
    #[backfill(key)]
    pub id: i64,
    #[backfill(expr = "count(*)")]
    pub order_count: Option<i64>,
}

fn main() {}
