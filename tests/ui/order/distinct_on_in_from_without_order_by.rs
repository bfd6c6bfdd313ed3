use backfill::Backfill;

/// `DISTINCT ON` in a derived table in `from`, keeping any row per user.
#[derive(Backfill)]
#[backfill(table = "user_tags", from = "(SELECT DISTINCT ON (user_id) user_id, name FROM tags) t", engines = "postgres")]
pub struct UserTags {
    #[backfill(key, expr = "t.user_id")]
    pub user_id: i64,
    #[backfill(expr = "t.name")]
    pub last_tag: String,
}

fn main() {}
