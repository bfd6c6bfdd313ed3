use backfill::Backfill;

/// A table a later migration drops is gone.
#[derive(Backfill)]
#[backfill(table = "old_stats", from = "events e", migrations = "tests/ui/schema/migrations/app")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
}

fn main() {}
