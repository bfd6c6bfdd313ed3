use backfill::Backfill;

/// PostgreSQL's one-argument `age(t)` is `age(current_date, t)`.
#[derive(Backfill)]
#[backfill(table = "people_ages", from = "people p", engines = "postgres")]
pub struct PeopleAges {
    #[backfill(key, expr = "p.id")]
    pub id: i64,
    #[backfill(expr = "CAST(age(p.born) AS TEXT)")]
    pub age: String,
}

fn main() {}
