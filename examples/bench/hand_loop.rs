//! The hand-written loop, what people write without this library: page through the aggregates
//! with sqlx ([`HAND_PAGE`] users per page) and upsert them one row per round trip, each its own
//! transaction, until the keys or the time budget (`--hand-loop-secs`) run out.

use std::time::{Duration, Instant};

use backfill::sqlx;

use crate::db::{on_pool, Db};
use crate::engine_sql::EngineSql;
use crate::upsert::StatsRow;

/// Users per page fetched by the hand-written loop.
const HAND_PAGE: i64 = 1_000;

impl Db {
    /// What people write without the library: page through the aggregates, upsert one row per
    /// round trip (each its own transaction), until the keys or the time budget run out.
    /// Returns the rows upserted.
    pub(crate) async fn hand_loop(&self, sql: &EngineSql, budget: Duration) -> sqlx::Result<u64> {
        let started = Instant::now();
        let mut cursor = i64::MIN;
        let mut rows = 0;
        loop {
            let page: Vec<StatsRow> = on_pool!(self, p => {
                sqlx::query_as::<_, StatsRow>(sql.hand_fetch)
                    .bind(cursor)
                    .bind(HAND_PAGE)
                    .fetch_all(p)
                    .await
            })?;
            let Some(last) = page.last() else {
                return Ok(rows);
            };
            cursor = last.0;
            for (user_id, count, total, last_seen) in page {
                if started.elapsed() >= budget {
                    return Ok(rows);
                }
                on_pool!(self, p => {
                    sqlx::query(sql.hand_upsert)
                        .bind(user_id)
                        .bind(count)
                        .bind(total)
                        .bind(last_seen)
                        .execute(p)
                        .await
                        .map(|_| ())
                })?;
                rows += 1;
            }
        }
    }
}
