use backfill::Backfill;

/// sqlx's reversible layout: the `.up.sql` files are replayed, the `.down.sql` ones are not.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", migrations = "tests/ui/schema/migrations/up_down")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "sum(e.amount)")]
    pub total_amount: i64,
}

fn main() {}
