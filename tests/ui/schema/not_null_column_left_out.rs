use backfill::Backfill;

/// A NOT NULL column without a default that no field writes: every insert would fail.
#[derive(Backfill)]
#[backfill(table = "strict_stats", from = "events e", migrations = "tests/ui/schema/migrations/app")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {}
