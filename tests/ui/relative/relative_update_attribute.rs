use backfill::Backfill;

/// A relative update written as an attribute.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(update = "event_count + 1")]
    pub event_count: i64,
}

fn main() {}
