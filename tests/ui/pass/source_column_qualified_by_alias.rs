use backfill::Backfill;

/// Order totals copied from the source's column of the same name, qualified by its alias.
#[derive(Backfill)]
#[backfill(table = "order_totals", from = "orders o")]
pub struct OrderTotals {
    #[backfill(key, expr = "o.id")]
    pub order_id: i64,
    #[backfill(expr = "o.total_amount + o.tax_amount")]
    pub total_amount: i64,
}

fn main() {
    let _ = OrderTotals::sql(backfill::Engine::Postgres);
}
