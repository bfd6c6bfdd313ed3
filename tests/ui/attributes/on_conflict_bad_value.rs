use backfill::Backfill;

/// `ignore` instead of `nothing`.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", on_conflict = "ignore")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {}
