use backfill::Backfill;

/// A built-in called through `pg_catalog` is still the built-in.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", engines = "postgres")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "max(pg_catalog.lower(e.name))")]
    pub name: String,
}

fn main() {}
