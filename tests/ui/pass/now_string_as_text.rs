use backfill::Backfill;

/// The string 'now' read as text is a constant, not the clock.
#[derive(Backfill)]
#[backfill(table = "labels", from = "items i", engines = "postgres")]
pub struct Label {
    #[backfill(key, expr = "i.id")]
    pub id: i64,
    #[backfill(expr = "CAST('now' AS TEXT)")]
    pub label: String,
}

fn main() {}
