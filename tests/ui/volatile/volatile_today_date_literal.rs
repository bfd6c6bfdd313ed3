use backfill::Backfill;

/// PostgreSQL reads 'today' as a date from the clock: another value tomorrow.
#[derive(Backfill)]
#[backfill(table = "snapshots", from = "items i", engines = "postgres")]
pub struct Snapshot {
    #[backfill(key, expr = "i.id")]
    pub id: i64,
    #[backfill(expr = "CAST('today' AS DATE)")]
    pub taken_on: String,
}

fn main() {}
