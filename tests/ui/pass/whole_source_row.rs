use backfill::Backfill;

/// The whole row of a source is a source value.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", engines = "postgres")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "max(CAST(to_jsonb(e) AS TEXT))")]
    pub last_event: String,
}

fn main() {}
