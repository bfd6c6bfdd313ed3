use backfill::Backfill;

/// No source: the struct fills its own table in place, where an aggregate and a key
/// expression have no meaning.
#[derive(Backfill)]
#[backfill(table = "user_stats")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {}
