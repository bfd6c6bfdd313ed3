use backfill::Backfill;

/// The same, with the NULL case written: `coalesce` makes it NOT NULL.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e JOIN users u ON u.id = e.user_id", migrations = "tests/ui/schema/migrations/app")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "coalesce(max(u.visits), 0)")]
    pub event_count: i64,
}

fn main() {}
