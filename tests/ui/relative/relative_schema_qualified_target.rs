use backfill::Backfill;

/// Reads the stored value through the schema-qualified target name.
#[derive(Backfill)]
#[backfill(table = "analytics.user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "analytics.user_stats.event_count + count(*)")]
    pub event_count: i64,
}

fn main() {}
