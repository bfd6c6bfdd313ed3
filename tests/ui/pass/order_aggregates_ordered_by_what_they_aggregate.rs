use backfill::Backfill;

/// Order-sensitive aggregates ordered by every value they aggregate (ties are then equal).
#[derive(Backfill)]
#[backfill(table = "user_tags", from = "tags t", engines = "postgres")]
pub struct UserTags {
    #[backfill(key, expr = "t.user_id")]
    pub user_id: i64,
    #[backfill(expr = "string_agg(t.name, ',' ORDER BY t.created_at, t.name)")]
    pub tags: String,
    #[backfill(expr = "CAST(json_agg(t.name ORDER BY t.name DESC) AS TEXT)")]
    pub tags_json: String,
    #[backfill(expr = "array_to_string(array_agg(DISTINCT lower(t.name) ORDER BY lower(t.name)), ',')")]
    pub tags_lower: String,
    #[backfill(expr = "string_agg('x', '')")]
    pub marks: String,
}

fn main() {}
