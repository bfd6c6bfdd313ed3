use backfill::Backfill;

/// `allow_volatile` on a value field accepts a result that depends on row order, as it accepts `now()`.
#[derive(Backfill)]
#[backfill(table = "user_tags", from = "tags t", engines = "mysql")]
pub struct UserTags {
    #[backfill(key, expr = "t.user_id")]
    pub user_id: i64,
    #[backfill(expr = "group_concat(t.name)", allow_volatile)]
    pub tags: String,
}

fn main() {}
