use backfill::Backfill;

/// A bare `expr` equal to the field's own column is a copy from the source, not a self-reference.
#[derive(Backfill)]
#[backfill(table = "order_totals", from = "orders")]
pub struct OrderTotals {
    #[backfill(key)]
    pub order_id: i64,
    #[backfill(expr = "total_amount")]
    pub total_amount: i64,
}

fn main() {}
