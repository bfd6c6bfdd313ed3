use backfill::Backfill;

/// In place, `initials` reads `shout_name`, which this same backfill writes: whether it sees the
/// old or the new value depends on the engine and on the run.
#[derive(Backfill)]
#[backfill(table = "people")]
pub struct Names {
    #[backfill(key)]
    pub id: i64,
    #[backfill(expr = "upper(first_name)")]
    pub shout_name: Option<String>,
    #[backfill(expr = "substr(shout_name, 1, 1)")]
    pub initials: Option<String>,
}

fn main() {}
