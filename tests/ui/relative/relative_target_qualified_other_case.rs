use backfill::Backfill;

/// Unquoted identifiers are case-insensitive: `User_Stats` is the target.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "User_Stats.event_count + count(*)")]
    pub event_count: i64,
}

fn main() {}
