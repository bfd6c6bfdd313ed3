use backfill::Backfill;

/// A MySQL executable comment: the parser drops it, the server runs the relative update inside.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", engines = "mysql")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*) /*! + max(user_stats.event_count) */")]
    pub event_count: i64,
}

fn main() {}
