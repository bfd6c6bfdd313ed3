use backfill::Backfill;

/// `count(*)` written to a TEXT column.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", migrations = "tests/ui/schema/migrations/app")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "count(*)")]
    pub label: Option<String>,
}

fn main() {}
