use backfill::Backfill;

/// `deterministic` lists names, not calls.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", deterministic = "slugify()")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "max(slugify(e.name))")]
    pub name: String,
}

fn main() {}
