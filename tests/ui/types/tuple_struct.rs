use backfill::Backfill;

/// Columns need names.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats(#[backfill(key)] pub i64, pub i64);

fn main() {}
