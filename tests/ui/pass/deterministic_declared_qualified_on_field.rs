use backfill::Backfill;

/// A schema-qualified user function, declared on the one field that calls it.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", engines = "postgres")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "max(util.slugify(e.name))", deterministic = "util.slugify")]
    pub name: String,
}

fn main() {}
