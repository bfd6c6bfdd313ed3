use backfill::Backfill;

/// An expression smuggling a second statement.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*); DROP TABLE user_stats")]
    pub event_count: i64,
}

fn main() {}
