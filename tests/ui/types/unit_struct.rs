use backfill::Backfill;

/// No columns at all.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats;

fn main() {}
