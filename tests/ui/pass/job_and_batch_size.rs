use backfill::Backfill;

/// A second version of a job, with a fixed batch size, checked into the definition.
#[derive(Backfill)]
#[backfill(
    table = "user_stats",
    from = "events e",
    job = "user_stats_v2",
    batch_size = 250
)]
pub struct UserStatsV2 {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {
    let definition = UserStatsV2::definition();
    assert_eq!(definition.job, "user_stats_v2");
    assert_eq!(definition.batch_size, Some(250));
    assert!(definition.grouped);
}
