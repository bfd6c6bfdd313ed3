use backfill::Backfill;

/// A row mapping over a table function: `unnest` gives several rows per user.
#[derive(Backfill)]
#[backfill(table = "user_tags", from = "users u, unnest(u.tags) AS t(tag)", engines = "postgres")]
pub struct UserStats {
    #[backfill(key, expr = "u.id")]
    pub user_id: i64,
    #[backfill(expr = "t.tag")]
    pub tag: String,
}

fn main() {}
