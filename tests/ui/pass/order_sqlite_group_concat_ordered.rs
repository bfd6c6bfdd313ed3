use backfill::Backfill;

/// SQLite 3.44+ orders inside an aggregate; the bundled SQLite is 3.46.
#[derive(Backfill)]
#[backfill(table = "user_tags", from = "tags t", engines = "sqlite")]
pub struct UserTags {
    #[backfill(key, expr = "t.user_id")]
    pub user_id: i64,
    #[backfill(expr = "group_concat(t.name, ',' ORDER BY t.name)")]
    pub tags: String,
    #[backfill(expr = "json_group_array(t.name ORDER BY t.name)")]
    pub tags_json: String,
}

fn main() {}
