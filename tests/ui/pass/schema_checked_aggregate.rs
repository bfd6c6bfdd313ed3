use backfill::Backfill;

/// A mapping the migrations confirm: tables, columns, the key's primary key, types and NULLs.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", filter = "e.kind <> 'test'", migrations = "tests/ui/schema/migrations/app")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "sum(e.amount)")]
    pub total_amount: Option<i64>,
    #[backfill(expr = "max(e.kind)")]
    pub last_kind: Option<String>,
}

fn main() {}
