use backfill::Backfill;

/// In place, `visits + 1` reads the stored value it replaces: every re-run adds one more.
#[derive(Backfill)]
#[backfill(table = "pages")]
pub struct Visits {
    #[backfill(key)]
    pub id: i64,
    #[backfill(expr = "visits + 1")]
    pub visits: i64,
}

fn main() {}
