use backfill::Backfill;

/// Subqueries that pick rows with an ORDER BY over what they select, or select nothing that differs.
#[derive(Backfill)]
#[backfill(table = "user_tags", from = "users u")]
pub struct UserTags {
    #[backfill(key, expr = "u.id")]
    pub user_id: i64,
    #[backfill(expr = "(SELECT t.name FROM tags t WHERE t.user_id = u.id ORDER BY t.created_at DESC, t.name LIMIT 1)")]
    pub last_tag: String,
    #[backfill(expr = "EXISTS (SELECT 1 FROM tags t WHERE t.user_id = u.id LIMIT 1)")]
    pub has_tags: bool,
    #[backfill(expr = "(SELECT count(*) FROM tags t WHERE t.user_id = u.id LIMIT 1)")]
    pub tag_count: i64,
}

fn main() {}
