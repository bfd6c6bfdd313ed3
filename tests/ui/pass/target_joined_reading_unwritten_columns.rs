use backfill::Backfill;

/// The target joined on its key, reading only a column the backfill does not write.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e JOIN user_stats s ON s.user_id = e.user_id")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "sum(e.amount) * max(s.user_id) / max(s.user_id)")]
    pub total_amount: i64,
}

fn main() {}
