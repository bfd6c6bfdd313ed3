use backfill::Backfill;

/// A function qualified by the user's schema is the user's, even named like a built-in.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", engines = "postgres")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "max(util.lower(e.name))")]
    pub name: String,
}

fn main() {}
