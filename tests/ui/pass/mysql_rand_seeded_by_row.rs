use backfill::Backfill;

/// MySQL's RAND(expr) reseeds from its argument on every call: a function of the row.
#[derive(Backfill)]
#[backfill(table = "samples", from = "users u", engines = "mysql")]
pub struct Sample {
    #[backfill(key, expr = "u.id")]
    pub id: i64,
    #[backfill(expr = "RAND(u.id)")]
    pub weight: f64,
}

fn main() {}
