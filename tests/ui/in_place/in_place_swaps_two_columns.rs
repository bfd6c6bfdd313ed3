use backfill::Backfill;

/// In place, two fields swapping values: each reads the column the other writes, so a re-run
/// swaps them back.
#[derive(Backfill)]
#[backfill(table = "people")]
pub struct Swap {
    #[backfill(key)]
    pub id: i64,
    #[backfill(expr = "last_name")]
    pub first_name: String,
    #[backfill(expr = "first_name")]
    pub last_name: String,
}

fn main() {}
