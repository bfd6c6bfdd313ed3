use backfill::Backfill;

/// The target table is not created by any migration: a near miss is suggested.
#[derive(Backfill)]
#[backfill(table = "user_stat", from = "events e", migrations = "tests/ui/schema/migrations/app")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {}
