use backfill::Backfill;

/// The seed's per-user totals, run, checked and verified on every engine, and read back typed.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "max(e.created_at)")]
    pub last_seen: Option<chrono::NaiveDateTime>,
}

/// Only compiled, never run: no server is needed for the UI suite.
async fn on_every_engine(
    pg: &backfill::sqlx::PgPool,
    my: &backfill::sqlx::MySqlPool,
    lite: &backfill::sqlx::SqlitePool,
) -> Result<u64, backfill::Error> {
    let report: backfill::Report =
        UserStats::run_backfill(pg, backfill::RunOptions::default()).await?;
    UserStats::check(my).await?;
    let verified: backfill::VerifyReport = UserStats::verify(lite).await?;
    let _ = (report, verified);
    Ok(0)
}

/// The derive implements `sqlx::FromRow`, so target rows read back as the struct.
async fn read_back(
    pool: &backfill::sqlx::SqlitePool,
) -> Result<Vec<UserStats>, backfill::sqlx::Error> {
    backfill::sqlx::query_as::<_, UserStats>(
        "SELECT user_id, event_count, last_seen FROM user_stats",
    )
    .fetch_all(pool)
    .await
}

fn main() {
    let _ = on_every_engine;
    let _ = read_back;
    let definition = UserStats::definition();
    assert_eq!(definition.key_columns(), "user_id");
    assert!(UserStats::sql(backfill::Engine::Postgres).is_some());
}
