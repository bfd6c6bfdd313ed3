use backfill::Backfill;

/// A text key: countries keyed by their ISO code.
#[derive(Backfill)]
#[backfill(table = "country_stats", from = "customers c", allow_other_unique_keys)]
pub struct CountryStats {
    #[backfill(key, expr = "c.country_code")]
    pub country_code: String,
    #[backfill(expr = "count(*)")]
    pub customers: i64,
}

fn main() {}
