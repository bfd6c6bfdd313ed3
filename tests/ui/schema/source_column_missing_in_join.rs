use backfill::Backfill;

/// A joined table's column, through its alias.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e JOIN users u ON u.id = e.user_id", migrations = "tests/ui/schema/migrations/app")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "max(u.nmae)")]
    pub name: Option<String>,
}

fn main() {}
