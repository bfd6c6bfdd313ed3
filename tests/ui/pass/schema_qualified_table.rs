use backfill::Backfill;

/// Target and source in named schemas.
#[derive(Backfill)]
#[backfill(
    table = "analytics.user_stats",
    from = "app.events e",
    engines = "postgres"
)]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {}
