use backfill::Backfill;

/// SQLite's `group_concat` in a per-engine expression, without ORDER BY.
#[derive(Backfill)]
#[backfill(table = "user_tags", from = "tags t")]
pub struct UserTags {
    #[backfill(key, expr = "t.user_id")]
    pub user_id: i64,
    #[backfill(postgres = "string_agg(t.name, ',' ORDER BY t.name)", mysql = "group_concat(t.name ORDER BY t.name SEPARATOR ',')", sqlite = "group_concat(t.name, ',')")]
    pub tags: String,
}

fn main() {}
