use backfill::Backfill;

/// Daily totals per tenant and user, stamped with the run's time.
#[derive(Backfill)]
#[backfill(table = "daily_user_stats", from = "events e")]
pub struct DailyUserStats {
    #[backfill(key, expr = "e.tenant_id")]
    pub tenant_id: i64,
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "clock_timestamp()")]
    pub refreshed_at: chrono::NaiveDateTime,
}

fn main() {}
