use backfill::Backfill;

/// With the schema, a name only the target has is the stored value: still a relative update.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", migrations = "tests/ui/schema/migrations/app")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "coalesce(last_kind, max(e.kind))")]
    pub last_kind: Option<String>,
}

fn main() {}
