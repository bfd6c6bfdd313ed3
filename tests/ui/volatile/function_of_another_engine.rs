use backfill::Backfill;

/// `split_part` is PostgreSQL's: generated for MySQL and SQLite too, it is unknown there.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "max(split_part(e.email, '@', 2))")]
    pub domain: String,
}

fn main() {}
