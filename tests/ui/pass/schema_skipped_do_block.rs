use backfill::Backfill;

/// A `DO` block marked `-- backfill: skip` is left out of the replay.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", engines = "postgres", migrations = "tests/ui/schema/migrations/skipped_do")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {}
