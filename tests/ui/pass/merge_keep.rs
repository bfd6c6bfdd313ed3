use backfill::Backfill;

/// Per-user activity whose `signup_source` merges with the stored value (`merge = "keep"`).
#[derive(Backfill)]
#[backfill(table = "user_activity", from = "events e")]
pub struct UserActivity {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "min(e.channel)", merge = "keep")]
    pub signup_source: Option<String>,
}

fn main() {}
