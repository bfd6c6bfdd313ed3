use backfill::Backfill;

/// `LIMIT 1` ordered by the time only: two tags added at the same time tie.
#[derive(Backfill)]
#[backfill(table = "user_tags", from = "users u")]
pub struct UserTags {
    #[backfill(key, expr = "u.id")]
    pub user_id: i64,
    #[backfill(expr = "(SELECT t.name FROM tags t WHERE t.user_id = u.id ORDER BY t.created_at LIMIT 1)")]
    pub first_tag: String,
}

fn main() {}
