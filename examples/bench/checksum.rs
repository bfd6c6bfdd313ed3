//! The check that makes a fast wrong answer fail: the whole target read in key order, in pages
//! of [`CHECKSUM_PAGE`] rows (constant memory), and hashed (FNV-1a 64 of every row) with its
//! row count. Every full run's checksum must equal the limit's.

use backfill::sqlx;

use crate::db::{on_pool, Db};
use crate::report::thousands;
use crate::upsert::StatsRow;

/// Rows per page when the checksum reads the target (keyset pagination: constant memory).
pub(crate) const CHECKSUM_PAGE: i64 = 10_000;

/// An order-sensitive hash (FNV-1a 64) of a whole table, and its number of rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Checksum {
    pub(crate) rows: u64,
    hash: u64,
}

impl Default for Checksum {
    fn default() -> Checksum {
        Checksum {
            rows: 0,
            hash: 0xcbf2_9ce4_8422_2325,
        }
    }
}

impl Checksum {
    fn add(&mut self, (user_id, count, total, last_seen): &StatsRow) {
        let line = format!("{user_id}|{count}|{total}|{last_seen}\n");
        for byte in line.bytes() {
            self.hash = (self.hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        self.rows += 1;
    }
}

impl std::fmt::Display for Checksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} rows, FNV-1a {:016x}",
            thousands(self.rows),
            self.hash
        )
    }
}

impl Db {
    /// The whole target in key order, hashed; read in pages so memory stays flat.
    pub(crate) async fn checksum(&self, page_sql: &str) -> sqlx::Result<Checksum> {
        let mut sum = Checksum::default();
        let mut cursor = i64::MIN;
        loop {
            let page: Vec<StatsRow> = on_pool!(self, p => {
                sqlx::query_as::<_, StatsRow>(crate::db::own_sql(page_sql))
                    .bind(cursor)
                    .bind(CHECKSUM_PAGE)
                    .fetch_all(p)
                    .await
            })?;
            for row in &page {
                sum.add(row);
            }
            match page.last() {
                Some(last) if page.len() as i64 == CHECKSUM_PAGE => cursor = last.0,
                _ => return Ok(sum),
            }
        }
    }
}
