use backfill::Backfill;

/// In place, `people.score` is the column this field writes, qualified by the table's name.
#[derive(Backfill)]
#[backfill(table = "people")]
pub struct Score {
    #[backfill(key)]
    pub id: i64,
    #[backfill(expr = "people.score * 2")]
    pub score: i64,
}

fn main() {}
