use backfill::Backfill;

/// An unknown function in a key: `allow_volatile` does not apply to keys.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "normalize_id(e.user_id)", allow_volatile)]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {}
