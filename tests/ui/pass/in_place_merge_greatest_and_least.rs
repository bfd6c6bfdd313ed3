use backfill::Backfill;

/// `merge = "greatest"` / `"least"` in place: the stored value moves only one way.
#[derive(Backfill)]
#[backfill(table = "accounts")]
pub struct Limits {
    #[backfill(key)]
    pub id: i64,
    #[backfill(expr = "plan_limit * 2", merge = "greatest")]
    pub max_limit: i64,
    #[backfill(expr = "plan_limit / 2", merge = "least")]
    pub min_limit: i64,
}

fn main() {}
