use backfill::Backfill;

/// The key is one column of a two-column primary key: not exactly a unique key.
#[derive(Backfill)]
#[backfill(table = "pair_stats", from = "events e", migrations = "tests/ui/schema/migrations/app")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {}
