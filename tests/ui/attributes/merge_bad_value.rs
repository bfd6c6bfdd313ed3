use backfill::Backfill;

/// `max` instead of `greatest`.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "max(e.created_at)", merge = "max")]
    pub last_seen: chrono::NaiveDateTime,
}

fn main() {}
