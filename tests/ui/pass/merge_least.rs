use backfill::Backfill;

/// Per-user activity whose `first_seen` merges with the stored value (`merge = "least"`).
#[derive(Backfill)]
#[backfill(table = "user_activity", from = "events e")]
pub struct UserActivity {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "min(e.created_at)", merge = "least")]
    pub first_seen: Option<chrono::NaiveDateTime>,
}

fn main() {}
