use backfill::Backfill;

/// Any Rust integer type can be a key part.
#[derive(Backfill)]
#[backfill(table = "shard_stats", from = "events e")]
pub struct ShardStats {
    #[backfill(key, expr = "e.shard")]
    pub shard: i32,
    #[backfill(key, expr = "e.bucket")]
    pub bucket: i16,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {}
