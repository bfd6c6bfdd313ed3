use backfill::Backfill;

/// In place, a new UUID on every run without `merge = "keep"` (or `allow_volatile`): a re-run
/// rewrites every row with another value.
#[derive(Backfill)]
#[backfill(table = "people")]
pub struct PublicId {
    #[backfill(key)]
    pub id: i64,
    #[backfill(expr = "gen_random_uuid()")]
    pub public_id: Option<String>,
}

fn main() {}
