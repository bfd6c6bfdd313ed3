use backfill::Backfill;

/// A window function as a value: computed over one batch's rows.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "row_number() OVER (ORDER BY e.id)")]
    pub event_count: i64,
}

fn main() {}
