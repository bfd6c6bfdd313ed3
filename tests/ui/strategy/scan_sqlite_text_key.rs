use backfill::Backfill;

/// SQLite's staging table cannot carry a text key's collation.
#[derive(Backfill)]
#[backfill(
    table = "country_stats",
    from = "users u",
    engines = "sqlite",
    strategy = "scan"
)]
pub struct CountryStats {
    #[backfill(key, expr = "u.country")]
    pub country: String,
    #[backfill(expr = "count(*)")]
    pub users: i64,
}

fn main() {}
