use backfill::Backfill;

/// In place, a volatile value accepted explicitly with `allow_volatile`.
#[derive(Backfill)]
#[backfill(table = "people")]
pub struct Stamped {
    #[backfill(key)]
    pub id: i64,
    #[backfill(expr = "current_timestamp", allow_volatile)]
    pub stamped_at: chrono::NaiveDateTime,
}

fn main() {}
