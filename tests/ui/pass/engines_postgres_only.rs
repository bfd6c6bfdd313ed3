use backfill::Backfill;

/// PostgreSQL-only syntax on a struct generated for PostgreSQL only.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", engines = "postgres")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*) FILTER (WHERE e.amount > 0)")]
    pub paid_events: i64,
    #[backfill(expr = "sum(e.amount)::bigint")]
    pub total_amount: i64,
}

fn main() {
    let _ = UserStats::sql(backfill::Engine::Postgres);
}
