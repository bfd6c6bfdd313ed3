use backfill::Backfill;

/// A user-variable counter: refused even with `allow_volatile`.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", engines = "mysql")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "@n := @n + 1", allow_volatile)]
    pub rank: i64,
}

fn main() {}
