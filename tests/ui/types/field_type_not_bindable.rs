use backfill::Backfill;

/// An amount in cents, a plain Rust struct with no database mapping.
pub struct Money {
    pub cents: i64,
}

/// Per-user totals whose amount has a type no engine can bind.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "sum(e.amount)")]
    pub total_amount: Money,
}

fn main() {}
