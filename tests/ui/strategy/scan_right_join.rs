use backfill::Backfill;

/// A RIGHT JOIN makes rows that hold no row of the first table, which the chunks are cut on.
#[derive(Backfill)]
#[backfill(
    table = "user_stats",
    from = "events e RIGHT JOIN users u ON u.id = e.user_id",
    strategy = "scan"
)]
pub struct UserStats {
    #[backfill(key, expr = "u.id")]
    pub user_id: i64,
    #[backfill(expr = "count(e.id)")]
    pub event_count: i64,
}

fn main() {}
