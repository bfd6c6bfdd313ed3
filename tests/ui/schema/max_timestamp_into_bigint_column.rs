use backfill::Backfill;

/// The latest timestamp written to a BIGINT column: MySQL would turn it into a number silently.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", migrations = "tests/ui/schema/migrations/app")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "max(e.created_at)")]
    pub total_amount: Option<i64>,
}

fn main() {}
