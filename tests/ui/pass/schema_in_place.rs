use backfill::Backfill;

/// In place on the target's own rows, every column known.
#[derive(Backfill)]
#[backfill(table = "users", migrations = "tests/ui/schema/migrations/app")]
pub struct Users {
    #[backfill(key)]
    pub id: i64,
    #[backfill(expr = "length(email)")]
    pub visits: Option<i32>,
}

fn main() {}
