use backfill::Backfill;

/// The key has no PRIMARY KEY or UNIQUE index: the DDL to add is printed.
#[derive(Backfill)]
#[backfill(table = "no_key_stats", from = "events e", migrations = "tests/ui/schema/migrations/app")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {}
