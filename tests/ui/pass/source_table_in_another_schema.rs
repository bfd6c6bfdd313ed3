use backfill::Backfill;

/// A source with the target's table name in another schema is not the target.
#[derive(Backfill)]
#[backfill(table = "analytics.user_stats", from = "archive.user_stats a")]
pub struct Restore {
    #[backfill(key, expr = "a.user_id")]
    pub user_id: i64,
    #[backfill(expr = "a.total")]
    pub total: i64,
}

fn main() {}
