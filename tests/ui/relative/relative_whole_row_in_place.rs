use backfill::Backfill;

/// In place, the row's own whole value includes the column being written.
#[derive(Backfill)]
#[backfill(table = "people", engines = "postgres")]
pub struct People {
    #[backfill(key)]
    pub id: i64,
    #[backfill(expr = "md5(CAST(row_to_json(people) AS TEXT))")]
    pub fingerprint: String,
}

fn main() {}
