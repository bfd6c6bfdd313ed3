use backfill::Backfill;

/// Keyed by a generated id: every run inserts new rows instead of converging.
#[derive(Backfill)]
#[backfill(table = "event_copies", from = "events e")]
pub struct EventCopy {
    #[backfill(key, expr = "gen_random_uuid()")]
    pub copy_id: String,
    #[backfill(expr = "e.amount")]
    pub amount: i64,
}

fn main() {}
