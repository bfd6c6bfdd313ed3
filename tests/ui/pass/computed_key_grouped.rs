use backfill::Backfill;

/// A computed key is fine when the values aggregate: one row per key.
#[derive(Backfill)]
#[backfill(table = "domain_stats", from = "users u")]
pub struct UserStats {
    #[backfill(key, expr = "lower(u.email)")]
    pub email: String,
    #[backfill(expr = "count(*)")]
    pub users: i64,
}

fn main() {}
