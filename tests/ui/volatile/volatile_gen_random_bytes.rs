use backfill::Backfill;

/// pgcrypto's `gen_random_bytes`.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", engines = "postgres")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "encode(gen_random_bytes(8), 'hex')")]
    pub salt: String,
}

fn main() {}
