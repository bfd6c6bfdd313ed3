use backfill::Backfill;

/// SQLite reads `@x` as a parameter the runtime never binds.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", engines = "sqlite")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "coalesce(@bonus, 0) + count(*)")]
    pub score: i64,
}

fn main() {}
