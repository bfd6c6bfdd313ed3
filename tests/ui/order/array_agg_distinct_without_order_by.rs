use backfill::Backfill;

/// `DISTINCT` removes duplicates but does not order what is left.
#[derive(Backfill)]
#[backfill(table = "user_tags", from = "tags t", engines = "postgres")]
pub struct UserTags {
    #[backfill(key, expr = "t.user_id")]
    pub user_id: i64,
    #[backfill(expr = "array_to_string(array_agg(DISTINCT t.name), ',')")]
    pub tags: String,
}

fn main() {}
