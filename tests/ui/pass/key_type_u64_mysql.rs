use backfill::Backfill;

/// A u64 key (MySQL/MariaDB `BIGINT UNSIGNED`) is bound as u64; sqlx maps u64 for MySQL only,
/// so the struct names its engine.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", engines = "mysql")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: u64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {
    let def = UserStats::definition();
    assert_eq!(def.key[0].kind, backfill::__private::KeyKind::UInt);
}
