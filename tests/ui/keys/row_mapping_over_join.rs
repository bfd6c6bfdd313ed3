use backfill::Backfill;

/// A row mapping over a join: a user with two orders gives two rows for one key.
#[derive(Backfill)]
#[backfill(table = "last_order", from = "users u JOIN orders o ON o.user_id = u.id")]
pub struct UserStats {
    #[backfill(key, expr = "u.id")]
    pub user_id: i64,
    #[backfill(expr = "o.total")]
    pub total: i64,
}

fn main() {}
