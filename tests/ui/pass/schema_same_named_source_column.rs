use backfill::Backfill;

/// `name` over `events`, which has `name`: with the schema it is the source's column, not the stored value.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events", migrations = "tests/ui/schema/migrations/app")]
pub struct UserStats {
    #[backfill(key)]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "max(name)")]
    pub name: Option<String>,
}

fn main() {}
