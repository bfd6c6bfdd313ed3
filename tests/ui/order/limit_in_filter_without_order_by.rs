use backfill::Backfill;

/// The filter keeps the rows of any ten users.
#[derive(Backfill)]
#[backfill(table = "user_tags", from = "tags t", filter = "t.user_id IN (SELECT u.id FROM users u LIMIT 10)")]
pub struct UserTags {
    #[backfill(key, expr = "t.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub tag_count: i64,
}

fn main() {}
