use backfill::Backfill;

/// Derives without any `#[backfill(...)]` on the struct.
#[derive(Backfill)]
pub struct UserStats {
    #[backfill(key)]
    pub user_id: i64,
    pub event_count: i64,
}

fn main() {}
