use backfill::Backfill;

/// MySQL's `group_concat` without ORDER BY: the tags in whatever order the rows come.
#[derive(Backfill)]
#[backfill(table = "user_tags", from = "tags t", engines = "mysql")]
pub struct UserTags {
    #[backfill(key, expr = "t.user_id")]
    pub user_id: i64,
    #[backfill(expr = "group_concat(t.name SEPARATOR ',')")]
    pub tags: String,
}

fn main() {}
