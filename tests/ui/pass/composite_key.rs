use backfill::Backfill;

/// Daily totals per tenant and user: a composite key in field order.
#[derive(Backfill)]
#[backfill(
    table = "daily_user_stats",
    from = "events e",
    job = "daily_user_stats_v2"
)]
pub struct DailyUserStats {
    #[backfill(key, expr = "e.tenant_id")]
    pub tenant_id: i64,
    #[backfill(key, expr = "e.region")]
    pub region: String,
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {
    let _ = DailyUserStats::sql(backfill::Engine::MySql);
}
