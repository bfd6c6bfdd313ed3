use backfill::Backfill;

/// A declaration names the function as it is called: `slugify` does not cover `util.slugify`.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", engines = "postgres", deterministic = "slugify")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "max(util.slugify(e.name))")]
    pub name: String,
}

fn main() {}
