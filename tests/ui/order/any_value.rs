use backfill::Backfill;

/// `ANY_VALUE`: the value of whichever row comes first.
#[derive(Backfill)]
#[backfill(table = "user_tags", from = "tags t", engines = "postgres")]
pub struct UserTags {
    #[backfill(key, expr = "t.user_id")]
    pub user_id: i64,
    #[backfill(expr = "any_value(t.name)")]
    pub first_tag: String,
}

fn main() {}
