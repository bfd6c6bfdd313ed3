use backfill::Backfill;

/// `avg` is fractional: an integer column would round it.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", migrations = "tests/ui/schema/migrations/app")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "avg(e.amount)")]
    pub event_count: i64,
}

fn main() {}
