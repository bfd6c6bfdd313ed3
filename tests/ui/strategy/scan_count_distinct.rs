use backfill::Backfill;

/// `count(DISTINCT ...)` cannot be merged from partials: a kind seen in two chunks would count
/// twice.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", strategy = "scan")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "count(DISTINCT e.kind)")]
    pub kinds: i64,
}

fn main() {}
