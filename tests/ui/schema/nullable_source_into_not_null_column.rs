use backfill::Backfill;

/// A NULL-able source column written to a NOT NULL column: one NULL stops the run.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e JOIN users u ON u.id = e.user_id", migrations = "tests/ui/schema/migrations/app")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "max(u.visits)")]
    pub event_count: i64,
}

fn main() {}
