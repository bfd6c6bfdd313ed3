use backfill::Backfill;

/// Field names differ from the target's column names.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, column = "uid", expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(column = "n_events", expr = "count(*)")]
    pub event_count: i64,
    #[backfill(column = "amount_total", expr = "sum(e.amount)")]
    pub total_amount: i64,
}

fn main() {}
