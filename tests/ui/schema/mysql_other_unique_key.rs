use backfill::Backfill;

/// On MySQL another unique key could take the upsert to another row.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", engines = "mysql", migrations = "tests/ui/schema/migrations/mysql_unique")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "max(e.email)")]
    pub email: String,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {}
