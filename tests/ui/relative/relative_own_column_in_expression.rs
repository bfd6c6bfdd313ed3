use backfill::Backfill;

/// Running total per order line: `total_amount` is the target's own column, read back.
#[derive(Backfill)]
#[backfill(table = "order_totals", from = "order_lines")]
pub struct OrderTotals {
    #[backfill(key)]
    pub line_id: i64,
    #[backfill(expr = "total_amount + amount")]
    pub total_amount: i64,
}

fn main() {}
