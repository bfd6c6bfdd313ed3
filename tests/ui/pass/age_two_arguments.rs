use backfill::Backfill;

/// `age(a, b)` is a difference of two row values: deterministic.
#[derive(Backfill)]
#[backfill(table = "people_ages", from = "people p", engines = "postgres")]
pub struct PeopleAges {
    #[backfill(key, expr = "p.id")]
    pub id: i64,
    #[backfill(expr = "CAST(age(p.died, p.born) AS TEXT)")]
    pub age: String,
}

fn main() {}
