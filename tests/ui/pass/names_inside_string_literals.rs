use backfill::Backfill;

/// Volatile names and the target's name inside string literals are data, not calls or references.
#[derive(Backfill)]
#[backfill(
    table = "user_stats",
    from = "events e",
    filter = "e.kind <> 'now()' AND e.note <> 'user_stats.event_count + 1'"
)]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "sum(CASE WHEN e.kind = 'random()' THEN 1 ELSE 0 END)")]
    pub event_count: i64,
    #[backfill(expr = "max(CASE WHEN e.kind = 'user_stats.x' THEN 'EXCLUDED.x' ELSE e.kind END)")]
    pub last_kind: Option<String>,
}

fn main() {}
