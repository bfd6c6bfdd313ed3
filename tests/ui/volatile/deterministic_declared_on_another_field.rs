use backfill::Backfill;

/// `deterministic` on a field covers that field's expressions only.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "max(slugify(e.name))", deterministic = "slugify")]
    pub name: String,
    #[backfill(expr = "max(slugify(e.city))")]
    pub city: String,
}

fn main() {}
