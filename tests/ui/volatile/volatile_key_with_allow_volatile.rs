use backfill::Backfill;

/// A random key cannot be batched or converge, even when volatile values are accepted.
#[derive(Backfill)]
#[backfill(table = "event_copies", from = "events e")]
pub struct EventCopy {
    #[backfill(key, expr = "gen_random_uuid()", allow_volatile)]
    pub copy_id: String,
    #[backfill(expr = "e.amount")]
    pub amount: i64,
}

fn main() {}
