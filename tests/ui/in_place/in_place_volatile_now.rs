use backfill::Backfill;

/// In place, `now()` without `allow_volatile` or `merge = "keep"`: a re-run rewrites every row.
#[derive(Backfill)]
#[backfill(table = "people")]
pub struct Touched {
    #[backfill(key)]
    pub id: i64,
    #[backfill(expr = "now()")]
    pub touched_at: chrono::NaiveDateTime,
}

fn main() {}
