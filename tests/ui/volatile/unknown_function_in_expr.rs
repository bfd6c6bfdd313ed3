use backfill::Backfill;

/// A user's function the derive does not know: it may read the clock or a table.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "max(slugify(e.name))")]
    pub name: String,
}

fn main() {}
