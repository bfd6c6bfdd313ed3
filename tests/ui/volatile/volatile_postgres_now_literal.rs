use backfill::Backfill;

/// PostgreSQL's `'now'::timestamp` reads the clock.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", engines = "postgres")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "'now'::timestamp")]
    pub refreshed_at: chrono::NaiveDateTime,
}

fn main() {}
