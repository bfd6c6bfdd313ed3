use backfill::Backfill;

/// Per-user totals summed from the source's `total_amount`, qualified by its alias.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "orders o")]
pub struct UserStats {
    #[backfill(key, expr = "o.user_id")]
    pub user_id: i64,
    #[backfill(expr = "sum(o.total_amount)")]
    pub total_amount: i64,
}

fn main() {}
