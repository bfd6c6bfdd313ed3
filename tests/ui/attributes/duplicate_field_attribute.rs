use backfill::Backfill;

/// `expr` given twice on one field.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)", expr = "count(e.id)")]
    pub event_count: i64,
}

fn main() {}
