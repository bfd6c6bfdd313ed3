use backfill::Backfill;

/// A row mapping keyed by a computed value: two users with one email overwrite each other.
#[derive(Backfill)]
#[backfill(table = "user_emails", from = "users u")]
pub struct UserStats {
    #[backfill(key, expr = "lower(u.email)")]
    pub email: String,
    #[backfill(expr = "u.name")]
    pub name: String,
}

fn main() {}
