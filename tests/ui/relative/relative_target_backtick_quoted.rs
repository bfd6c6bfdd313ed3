use backfill::Backfill;

/// The target named with MySQL quotes.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", engines = "mysql")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "`user_stats`.`event_count` + count(*)")]
    pub event_count: i64,
}

fn main() {}
