use backfill::Backfill;

/// An `expr` for every engine, overridden for PostgreSQL only.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(
        expr = "count(DISTINCT e.session_id)",
        postgres = "count(DISTINCT e.session_id)::bigint"
    )]
    pub sessions: i64,
}

fn main() {}
