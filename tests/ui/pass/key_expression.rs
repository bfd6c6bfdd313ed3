use backfill::Backfill;

/// A key computed per row (not an aggregate): accounts grouped by normalized email.
#[derive(Backfill)]
#[backfill(
    table = "email_stats",
    from = "accounts a",
    filter = "a.email IS NOT NULL"
)]
pub struct EmailStats {
    #[backfill(key, expr = "lower(a.email)")]
    pub email: String,
    #[backfill(expr = "count(*)")]
    pub accounts: i64,
    #[backfill(
        postgres = "bool_or(a.is_verified)",
        mysql = "max(a.is_verified)",
        sqlite = "max(a.is_verified)"
    )]
    pub any_verified: bool,
}

fn main() {}
