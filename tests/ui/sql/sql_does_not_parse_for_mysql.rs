use backfill::Backfill;

/// `FILTER (WHERE ...)` is PostgreSQL/SQLite syntax; the struct is generated for every engine.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*) FILTER (WHERE e.amount > 0)")]
    pub paid_events: i64,
}

fn main() {}
