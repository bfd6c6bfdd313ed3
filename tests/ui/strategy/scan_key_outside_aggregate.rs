use backfill::Backfill;

/// The key read outside an aggregate: the merge reads partials only.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", strategy = "scan")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*) + e.user_id")]
    pub score: i64,
}

fn main() {}
