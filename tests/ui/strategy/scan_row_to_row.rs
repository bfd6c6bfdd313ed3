use backfill::Backfill;

/// A row-to-row copy has no aggregates to merge.
#[derive(Backfill)]
#[backfill(table = "orders_copy", from = "orders o", strategy = "scan")]
pub struct OrderCopy {
    #[backfill(key, expr = "o.id")]
    pub id: i64,
    #[backfill(expr = "o.total")]
    pub total: i64,
}

fn main() {}
