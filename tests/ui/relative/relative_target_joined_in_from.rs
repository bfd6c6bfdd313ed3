use backfill::Backfill;

/// The source joins the target: the stored value feeds its own recompute.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e JOIN user_stats s ON s.user_id = e.user_id")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*) + max(s.event_count)")]
    pub event_count: i64,
}

fn main() {}
