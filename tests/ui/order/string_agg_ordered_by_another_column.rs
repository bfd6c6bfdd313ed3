use backfill::Backfill;

/// Ordered by the time only: two tags added at the same time can come in either order.
#[derive(Backfill)]
#[backfill(table = "user_tags", from = "tags t", engines = "postgres")]
pub struct UserTags {
    #[backfill(key, expr = "t.user_id")]
    pub user_id: i64,
    #[backfill(expr = "string_agg(t.name, ',' ORDER BY t.created_at)")]
    pub tags: String,
}

fn main() {}
