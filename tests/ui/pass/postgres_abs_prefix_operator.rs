use backfill::Backfill;

/// PostgreSQL's prefix `@` is the absolute value, not a variable.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", engines = "postgres")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "sum(@ e.delta)")]
    pub total_change: i64,
}

fn main() {}
