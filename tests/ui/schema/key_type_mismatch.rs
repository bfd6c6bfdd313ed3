use backfill::Backfill;

/// A `String` key for a BIGINT key column.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", migrations = "tests/ui/schema/migrations/app")]
pub struct UserStats {
    #[backfill(key, expr = "e.kind")]
    pub user_id: String,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {}
