use backfill::Backfill;

/// `from` reads a table no migration creates.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "evnts e", migrations = "tests/ui/schema/migrations/app")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {}
