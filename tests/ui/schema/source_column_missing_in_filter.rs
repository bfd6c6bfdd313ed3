use backfill::Backfill;

/// `filter` names a column the source does not have.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", filter = "e.knd <> 'test'", migrations = "tests/ui/schema/migrations/app")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {}
