use backfill::Backfill;

/// In place without `from`, the key is the target's own key column: an `expr` on it means
/// nothing (there is no source to compute it from).
#[derive(Backfill)]
#[backfill(table = "people")]
pub struct FullName {
    #[backfill(key, expr = "person_id")]
    pub id: i64,
    #[backfill(expr = "upper(first_name)")]
    pub full_name: Option<String>,
}

fn main() {}
