use backfill::Backfill;

/// An empty target name.
#[derive(Backfill)]
#[backfill(table = "", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {}
