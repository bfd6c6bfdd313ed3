use backfill::Backfill;

/// A MySQL expression on a struct generated for PostgreSQL only.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", engines = "postgres")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(postgres = "count(*)", mysql = "count(*)")]
    pub event_count: i64,
}

fn main() {}
