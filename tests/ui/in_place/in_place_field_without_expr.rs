use backfill::Backfill;

/// In place without `from`, a field without `expr` would read the very column it writes (there
/// is no source column of that name): it must say how the value is computed.
#[derive(Backfill)]
#[backfill(table = "people")]
pub struct FullName {
    #[backfill(key)]
    pub id: i64,
    pub full_name: Option<String>,
}

fn main() {}
