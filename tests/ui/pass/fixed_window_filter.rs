use backfill::Backfill;

/// A fixed time window converges; only a moving one (`now()`) does not.
#[derive(Backfill)]
#[backfill(
    table = "user_stats_2024",
    from = "events e",
    filter = "e.created_at >= '2024-01-01' AND e.created_at < '2025-01-01'"
)]
pub struct UserStats2024 {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {}
