use backfill::Backfill;

/// Bare `utc_date` is the clock on MySQL only; on PostgreSQL it is a column.
#[derive(Backfill)]
#[backfill(table = "shift_days", from = "shifts", engines = "postgres")]
pub struct ShiftDays {
    #[backfill(key, expr = "shift_id")]
    pub shift_id: i64,
    #[backfill(expr = "CAST(max(utc_date) AS TEXT)")]
    pub last_day: String,
}

fn main() {}
