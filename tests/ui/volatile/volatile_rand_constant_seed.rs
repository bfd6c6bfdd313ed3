use backfill::Backfill;

/// RAND(42) is one sequence over the statement's rows in their order: each batch restarts it.
#[derive(Backfill)]
#[backfill(table = "samples", from = "users u", engines = "mysql")]
pub struct Sample {
    #[backfill(key, expr = "u.id")]
    pub id: i64,
    #[backfill(expr = "RAND(42)")]
    pub weight: f64,
}

fn main() {}
