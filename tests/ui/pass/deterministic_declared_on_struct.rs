use backfill::Backfill;

/// A user's IMMUTABLE function, declared for every fragment of the struct.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", filter = "is_real(e.kind)", deterministic = "slugify, is_real")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "max(slugify(e.name))")]
    pub name: String,
}

fn main() {}
