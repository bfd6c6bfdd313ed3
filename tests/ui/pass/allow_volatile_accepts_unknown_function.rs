use backfill::Backfill;

/// `allow_volatile` on a value field takes what the derive cannot show deterministic.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "max(lookup_rate(e.currency))", allow_volatile)]
    pub rate: f64,
}

fn main() {}
