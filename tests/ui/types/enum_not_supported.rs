use backfill::Backfill;

/// A backfill is a struct of columns, not an enum.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub enum UserStats {
    Active { user_id: i64 },
    Dormant { user_id: i64 },
}

fn main() {}
