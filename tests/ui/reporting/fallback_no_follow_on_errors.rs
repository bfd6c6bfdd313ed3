use backfill::{Backfill, BackfillPool, RunOptions};

/// A mistake in the derive, and a service that uses the struct: the build shows the derive's
/// error only, not "no function named `run_backfill`" (and the like) at every use.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "now()")]
    pub refreshed_at: chrono::NaiveDateTime,
}

fn definition_of<T: Backfill>() -> &'static backfill::Definition {
    T::DEFINITION
}

async fn service<P: BackfillPool>(pool: &P) -> Result<(), backfill::Error> {
    UserStats::check(pool).await?;
    let report = UserStats::run_backfill(pool, RunOptions::default()).await?;
    let verified = UserStats::verify(pool).await?;
    println!("{} rows, clean: {}", report.rows_written, verified.is_clean());
    let _ = UserStats::sql(backfill::Engine::Postgres);
    let _ = UserStats::definition();
    let _ = definition_of::<UserStats>();
    Ok(())
}

async fn read_back(pool: &backfill::sqlx::SqlitePool) -> Result<Vec<UserStats>, backfill::sqlx::Error> {
    backfill::sqlx::query_as::<_, UserStats>("SELECT user_id, refreshed_at FROM user_stats")
        .fetch_all(pool)
        .await
}

fn main() {
    let _ = service::<backfill::sqlx::SqlitePool>;
    let _ = read_back;
}
