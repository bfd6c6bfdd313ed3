use backfill::Backfill;

/// The seed's per-user totals, used through the generated API.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events")]
pub struct UserStats {
    #[backfill(key)]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "sum(amount)")]
    pub total_amount: i64,
    #[backfill(expr = "max(created_at)")]
    pub last_seen: chrono::NaiveDateTime,
}

fn definition_of<T: backfill::Backfill>() -> &'static backfill::Definition {
    T::DEFINITION
}

fn main() {
    let definition = definition_of::<UserStats>();
    assert_eq!(definition.table, "user_stats");
    let _ = UserStats::sql(backfill::Engine::Sqlite);
}
