use backfill::Backfill;

/// A key from a `LIMIT 1` subquery: `allow_volatile` does not apply to a key.
#[derive(Backfill)]
#[backfill(table = "user_tags", from = "users u")]
pub struct UserTags {
    #[backfill(key, expr = "(SELECT t.user_id FROM tags t WHERE t.user_id = u.id LIMIT 1)")]
    pub user_id: i64,
    #[backfill(expr = "u.name")]
    pub name: String,
}

fn main() {}
