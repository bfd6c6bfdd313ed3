use backfill::Backfill;

/// `source` instead of `from`.
#[derive(Backfill)]
#[backfill(table = "user_stats", source = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {}
