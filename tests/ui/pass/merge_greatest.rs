use backfill::Backfill;

/// Per-user activity whose `last_seen` merges with the stored value (`merge = "greatest"`).
#[derive(Backfill)]
#[backfill(table = "user_activity", from = "events e")]
pub struct UserActivity {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "max(e.created_at)", merge = "greatest")]
    pub last_seen: Option<chrono::NaiveDateTime>,
}

fn main() {}
