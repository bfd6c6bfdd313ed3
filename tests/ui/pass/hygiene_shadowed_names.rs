use backfill::Backfill;

// Names a user's module may well define: the generated code must name everything by absolute path.
#[allow(dead_code)]
type Result = ();
#[allow(dead_code)]
struct Option;
#[allow(dead_code)]
struct Engine;
#[allow(dead_code)]
struct Definition;
#[allow(dead_code)]
mod core {}
#[allow(dead_code)]
mod sqlx {}

/// Per-user totals in a module full of look-alike names.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {
    let _ = UserStats::sql(backfill::Engine::Sqlite);
}
