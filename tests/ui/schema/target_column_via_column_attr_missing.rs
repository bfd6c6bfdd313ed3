use backfill::Backfill;

/// `column = "..."` names a column the target does not have.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", migrations = "tests/ui/schema/migrations/app")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)", column = "events_total")]
    pub event_count: i64,
}

fn main() {}
