use backfill::Backfill;

/// Several fields, each reading only columns of the same row that this backfill does not write.
#[derive(Backfill)]
#[backfill(table = "people")]
pub struct Derived {
    #[backfill(key)]
    pub id: i64,
    #[backfill(expr = "lower(email)")]
    pub email_normalized: Option<String>,
    #[backfill(expr = "CASE WHEN birth_year < 2000 THEN 'old' ELSE 'young' END")]
    pub cohort: Option<String>,
    #[backfill(expr = "legacy_name")]
    pub display_name: Option<String>,
}

fn main() {}
