use backfill::Backfill;

/// In place, `full_name || 'x'` appends to the stored value: every re-run appends again.
#[derive(Backfill)]
#[backfill(table = "people", engines = "postgres, sqlite")]
pub struct FullName {
    #[backfill(key)]
    pub id: i64,
    #[backfill(expr = "full_name || 'x'")]
    pub full_name: Option<String>,
}

fn main() {}
