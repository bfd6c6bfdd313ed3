use backfill::Backfill;

/// In place there is no conflict: an UPDATE never inserts, so `on_conflict` has no meaning.
#[derive(Backfill)]
#[backfill(table = "people", on_conflict = "nothing")]
pub struct FullName {
    #[backfill(key)]
    pub id: i64,
    #[backfill(expr = "upper(first_name)")]
    pub full_name: Option<String>,
}

fn main() {}
