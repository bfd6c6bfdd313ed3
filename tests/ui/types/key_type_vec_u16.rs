use backfill::Backfill;

/// Only `Vec<u8>` is a binary key; a vector of anything else is not a key type.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.codes")]
    pub codes: Vec<u16>,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {}
