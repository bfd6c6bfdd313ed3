use backfill::Backfill;

/// A string concatenation written to an INTEGER column.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", migrations = "tests/ui/schema/migrations/app")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "max(e.kind) || '-'")]
    pub small_count: i32,
}

fn main() {}
