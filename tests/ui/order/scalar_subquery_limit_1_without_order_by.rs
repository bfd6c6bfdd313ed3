use backfill::Backfill;

/// A scalar subquery with `LIMIT 1` and no ORDER BY: any of the user's tags.
#[derive(Backfill)]
#[backfill(table = "user_tags", from = "users u")]
pub struct UserTags {
    #[backfill(key, expr = "u.id")]
    pub user_id: i64,
    #[backfill(expr = "(SELECT t.name FROM tags t WHERE t.user_id = u.id LIMIT 1)")]
    pub first_tag: String,
}

fn main() {}
