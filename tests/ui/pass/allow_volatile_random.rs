use backfill::Backfill;

/// A one-off sample assignment; the author accepts that a re-run draws again.
#[derive(Backfill)]
#[backfill(table = "experiment_users", from = "users u", on_conflict = "nothing")]
pub struct ExperimentUser {
    #[backfill(key, expr = "u.id")]
    pub user_id: i64,
    #[backfill(
        allow_volatile,
        postgres = "random()",
        mysql = "rand()",
        sqlite = "abs(random()) / 9223372036854775807.0"
    )]
    pub bucket: f64,
}

fn main() {}
