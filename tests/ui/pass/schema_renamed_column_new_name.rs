use backfill::Backfill;

/// A renamed column, read by its new name; a unique index added by CREATE UNIQUE INDEX.
#[derive(Backfill)]
#[backfill(table = "email_stats", from = "users u", source_key_unique, migrations = "tests/ui/schema/migrations/app")]
pub struct UserStats {
    #[backfill(key, expr = "u.id")]
    pub user_id: i64,
    #[backfill(expr = "u.email")]
    pub email: String,
    #[backfill(expr = "length(u.full_name)")]
    pub event_count: i64,
}

fn main() {}
