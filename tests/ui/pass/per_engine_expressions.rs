use backfill::Backfill;

/// A string aggregate spelled differently on each engine.
#[derive(Backfill)]
#[backfill(table = "user_tags", from = "tags t")]
pub struct UserTags {
    #[backfill(key, expr = "t.user_id")]
    pub user_id: i64,
    #[backfill(
        postgres = "string_agg(t.name, ',' ORDER BY t.name)",
        mysql = "group_concat(t.name ORDER BY t.name SEPARATOR ',')",
        sqlite = "group_concat(t.name, ',' ORDER BY t.name)"
    )]
    pub tags: String,
}

fn main() {
    for engine in backfill::Engine::ALL {
        let _ = UserTags::sql(engine);
    }
}
