use backfill::Backfill;

/// `LIMIT` over `SELECT *` in `from`: the ORDER BY cannot be shown to tell the rows apart.
#[derive(Backfill)]
#[backfill(table = "user_tags", from = "(SELECT * FROM tags ORDER BY created_at LIMIT 1000) t")]
pub struct UserTags {
    #[backfill(key, expr = "t.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub tag_count: i64,
}

fn main() {}
