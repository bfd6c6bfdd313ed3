use backfill::Backfill;

/// A source aliased `new` is the source, not MySQL's inserted-row alias.
#[derive(Backfill)]
#[backfill(table = "user_copies", from = "users new")]
pub struct UserCopy {
    #[backfill(key, expr = "new.id")]
    pub id: i64,
    #[backfill(expr = "new.total")]
    pub total: i64,
}

fn main() {}
