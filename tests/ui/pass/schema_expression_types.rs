use backfill::Backfill;

/// Each expression's type, inferred from the schema, fits its column.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", migrations = "tests/ui/schema/migrations/app")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "avg(e.amount)")]
    pub avg_amount: Option<f64>,
    #[backfill(expr = "max(e.created_at)")]
    pub last_seen: Option<chrono::NaiveDateTime>,
    #[backfill(expr = "max(e.kind) || '!'")]
    pub label: Option<String>,
}

fn main() {}
