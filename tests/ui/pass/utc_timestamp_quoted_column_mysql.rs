use backfill::Backfill;

/// A backquoted `utc_timestamp` is a column on MySQL too.
#[derive(Backfill)]
#[backfill(table = "shift_days", from = "shifts s", engines = "mysql")]
pub struct ShiftDays {
    #[backfill(key, expr = "s.shift_id")]
    pub shift_id: i64,
    #[backfill(expr = "CAST(max(`utc_timestamp`) AS CHAR)")]
    pub last_seen: String,
}

fn main() {}
