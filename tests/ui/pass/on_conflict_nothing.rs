use backfill::Backfill;

/// Write-once seed rows: existing rows are never updated.
#[derive(Backfill)]
#[backfill(table = "user_settings", from = "users u", on_conflict = "nothing")]
pub struct UserSettings {
    #[backfill(key, expr = "u.id")]
    pub user_id: i64,
    #[backfill(expr = "'light'")]
    pub theme: String,
    #[backfill(expr = "true")]
    pub emails_enabled: bool,
}

fn main() {}
