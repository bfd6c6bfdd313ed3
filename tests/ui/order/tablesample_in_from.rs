use backfill::Backfill;

/// `TABLESAMPLE`: another sample of the rows on every run.
#[derive(Backfill)]
#[backfill(table = "user_tags", from = "tags t TABLESAMPLE BERNOULLI (10)", engines = "postgres")]
pub struct UserTags {
    #[backfill(key, expr = "t.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub tag_count: i64,
}

fn main() {}
