use backfill::Backfill;

/// A field without `expr` copies the source column of its name, which the source lacks.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "users u", source_key_unique, migrations = "tests/ui/schema/migrations/app")]
pub struct UserStats {
    #[backfill(key, expr = "u.id")]
    pub user_id: i64,
    pub last_kind: Option<String>,
}

fn main() {}
