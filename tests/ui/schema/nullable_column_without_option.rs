use backfill::Backfill;

/// A column that can be NULL, read back into a non-`Option` field.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", migrations = "tests/ui/schema/migrations/app")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "sum(e.amount)")]
    pub total_amount: i64,
}

fn main() {}
