use backfill::Backfill;

/// PostgreSQL's `json_agg` without ORDER BY, inside a cast.
#[derive(Backfill)]
#[backfill(table = "user_tags", from = "tags t", engines = "postgres")]
pub struct UserTags {
    #[backfill(key, expr = "t.user_id")]
    pub user_id: i64,
    #[backfill(expr = "CAST(json_agg(t.name) AS TEXT)")]
    pub tags: String,
}

fn main() {}
