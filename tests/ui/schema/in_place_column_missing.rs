use backfill::Backfill;

/// In place, the column being filled must exist.
#[derive(Backfill)]
#[backfill(table = "users", migrations = "tests/ui/schema/migrations/app")]
pub struct Users {
    #[backfill(key)]
    pub id: i64,
    #[backfill(expr = "lower(email)")]
    pub email_lower: String,
}

fn main() {}
