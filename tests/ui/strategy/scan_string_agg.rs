use backfill::Backfill;

/// `string_agg` is not a merge of per-chunk partials.
#[derive(Backfill)]
#[backfill(
    table = "user_tags",
    from = "tags t",
    engines = "postgres",
    strategy = "scan"
)]
pub struct UserTags {
    #[backfill(key, expr = "t.user_id")]
    pub user_id: i64,
    #[backfill(expr = "string_agg(t.name, ',' ORDER BY t.name)")]
    pub tags: String,
}

fn main() {}
