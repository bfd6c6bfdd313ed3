use backfill::Backfill;

/// Another unique key, accepted with `allow_other_unique_keys`.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", engines = "mysql", allow_other_unique_keys, migrations = "tests/ui/schema/migrations/mysql_unique")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "max(e.email)")]
    pub email: String,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {}
