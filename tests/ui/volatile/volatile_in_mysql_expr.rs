use backfill::Backfill;

/// Days since the user's last event, per engine: the MySQL one reads the clock.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", engines = "postgres, mysql")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(
        postgres = "extract(day FROM DATE '2024-01-01' - max(e.created_at))",
        mysql = "datediff(now(), max(e.created_at))"
    )]
    pub days_idle: i64,
}

fn main() {}
