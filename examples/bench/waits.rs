//! What the sessions wait on while the latency scenario's load runs (`--waits`): the server's
//! own view of every busy session, sampled every [`INTERVAL`] on a connection of its own, so a
//! stall of the load can be told apart as CPU, a row lock the backfill holds, a read from disk
//! or a flush of the log at commit.
//!
//! - PostgreSQL: `pg_stat_activity`'s `wait_event_type:wait_event` of every active session
//!   (`on CPU` when it waits on nothing the server tracks), the load's told by its
//!   `application_name` ([`LOAD_APPLICATION`]), the backfill's being every other client session
//!   and its parallel workers, and the server's own processes (WAL writer, checkpointer,
//!   background writer, autovacuum) when they are not idle.
//! - MySQL/MariaDB: `information_schema.PROCESSLIST`'s `STATE` of every session running a
//!   statement, the load's told by its statement text.
//!
//! A sample in which [`PILED`] or more of the load's connections are busy at once is a stall
//! (at 500 operations a second of about 1 ms each, half a connection is busy on average): what
//! the load's sessions wait on in those samples is what its p99 is made of.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use backfill::sqlx::mysql::MySqlPoolOptions;
use backfill::sqlx::postgres::PgPoolOptions;
use backfill::sqlx::{self, MySqlPool, PgPool, Row};
use tokio::task::JoinHandle;

use crate::db::{own_sql, Db};
use crate::load::{LOAD_CONNECTIONS, OPS};
use crate::BoxError;

/// How often the server is sampled.
pub(crate) const INTERVAL: Duration = Duration::from_millis(20);

/// Busy load sessions in one sample that make it a stall: half the load's pool.
pub(crate) const PILED: usize = LOAD_CONNECTIONS as usize / 2;

/// The `application_name` of the load's PostgreSQL connections.
pub(crate) const LOAD_APPLICATION: &str = "backfill-bench-load";

/// The busy sessions, one row each: whether it is the load's, its `backend_type` (which tells
/// the backfill's client sessions and parallel workers from the server's own processes) and
/// what it waits on.
const PG_SAMPLE: &str = "SELECT application_name = $1 AS load, backend_type, \
     coalesce(wait_event_type || ':' || wait_event, 'on CPU') AS wait \
     FROM pg_stat_activity \
     WHERE pid <> pg_backend_pid() \
       AND (state = 'active' OR (backend_type <> 'client backend' \
            AND coalesce(wait_event_type, '') NOT IN ('Activity', 'Extension')))";

/// Every session running a statement but this one; the load's told by its text ([`mysql_who`]).
const MYSQL_SAMPLE: &str = "SELECT COALESCE(INFO, '') AS info, COALESCE(STATE, '') AS state \
     FROM information_schema.PROCESSLIST \
     WHERE COMMAND IN ('Query', 'Execute') AND ID <> CONNECTION_ID()";

/// Whose session a sampled wait is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Load,
    Backfill,
    Server,
}

/// The waits of one stretch of load, tallied over its samples.
#[derive(Debug, Clone, Default)]
pub(crate) struct Waits {
    /// Samples taken.
    pub(crate) samples: u64,
    /// Samples with [`PILED`] or more load sessions busy.
    pub(crate) piled_samples: u64,
    /// Busy load sessions summed over every sample (over `samples`: how many were busy on
    /// average).
    pub(crate) load_busy: u64,
    /// Each wait of a busy load session, over every sample.
    pub(crate) load: BTreeMap<String, u64>,
    /// Each wait of a busy load session, over the piled samples only.
    pub(crate) piled: BTreeMap<String, u64>,
    /// Each wait of the backfill's busy sessions (every other client session running a
    /// statement, and PostgreSQL's parallel workers).
    pub(crate) backfill: BTreeMap<String, u64>,
    /// Each wait of the server's own processes when not idle (PostgreSQL), over every sample.
    pub(crate) server: BTreeMap<String, u64>,
}

impl Waits {
    /// Adds another stretch's samples (the runs of one figure pooled together).
    pub(crate) fn merge(&mut self, other: &Waits) {
        self.samples += other.samples;
        self.piled_samples += other.piled_samples;
        self.load_busy += other.load_busy;
        for (mine, theirs) in [
            (&mut self.load, &other.load),
            (&mut self.piled, &other.piled),
            (&mut self.backfill, &other.backfill),
            (&mut self.server, &other.server),
        ] {
            for (wait, n) in theirs {
                *mine.entry(wait.clone()).or_default() += n;
            }
        }
    }

    /// Tallies one sample's busy sessions.
    fn add(&mut self, sessions: &[(Who, String)]) {
        self.samples += 1;
        let load: Vec<&String> = sessions
            .iter()
            .filter(|(who, _)| *who == Who::Load)
            .map(|(_, wait)| wait)
            .collect();
        self.load_busy += load.len() as u64;
        let piled = load.len() >= PILED;
        if piled {
            self.piled_samples += 1;
        }
        for (who, wait) in sessions {
            let tally = match who {
                Who::Load => &mut self.load,
                Who::Backfill => &mut self.backfill,
                Who::Server => &mut self.server,
            };
            *tally.entry(wait.clone()).or_default() += 1;
            if piled && *who == Who::Load {
                *self.piled.entry(wait.clone()).or_default() += 1;
            }
        }
    }

    /// The `n` most frequent waits of a tally with their share of it, as `wait 62%, ...`;
    /// `–` when the tally is empty.
    pub(crate) fn top(tally: &BTreeMap<String, u64>, n: usize) -> String {
        let total: u64 = tally.values().sum();
        if total == 0 {
            return "–".to_string();
        }
        let mut waits: Vec<(&String, &u64)> = tally.iter().collect();
        waits.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        let mut s = String::new();
        for (i, (wait, count)) in waits.into_iter().take(n).enumerate() {
            let _ = write!(
                s,
                "{}`{wait}` {:.0}%",
                if i == 0 { "" } else { ", " },
                *count as f64 * 100.0 / total as f64
            );
        }
        s
    }
}

/// The connection the samples are taken on, on the benchmark's server.
#[derive(Clone)]
pub(crate) enum Sampler {
    Postgres(PgPool),
    MySql(MySqlPool),
}

/// A running sampler: stop it to get its tallies.
pub(crate) struct Sampling {
    stop: Arc<AtomicBool>,
    task: JoinHandle<Waits>,
}

impl Sampler {
    /// Opens the sampler's own connection to `db`'s server (PostgreSQL or MySQL/MariaDB).
    pub(crate) async fn connect(db: &Db) -> Result<Sampler, BoxError> {
        Ok(match db {
            Db::Postgres(p) => Sampler::Postgres(
                PgPoolOptions::new()
                    .max_connections(1)
                    .connect_with(p.connect_options().as_ref().clone())
                    .await?,
            ),
            Db::MySql(p) => Sampler::MySql(
                MySqlPoolOptions::new()
                    .max_connections(1)
                    .connect_with(p.connect_options().as_ref().clone())
                    .await?,
            ),
            Db::Sqlite(_) => return Err("waits are sampled on PostgreSQL and MySQL/MariaDB".into()),
        })
    }

    /// Starts sampling every [`INTERVAL`] until [`Sampling::stop`]. A sample slower than the
    /// interval delays the next one; a sample that fails ends the sampling with what it has,
    /// so the diagnostic never fails the benchmark.
    pub(crate) fn start(&self) -> Sampling {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let sampler = self.clone();
        let task = tokio::spawn(async move {
            let mut waits = Waits::default();
            let mut tick = tokio::time::interval(INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while !flag.load(Ordering::Relaxed) {
                tick.tick().await;
                match sampler.sample().await {
                    Ok(sessions) => waits.add(&sessions),
                    Err(e) => {
                        eprintln!("waits: sampling stopped: {e}");
                        break;
                    }
                }
            }
            waits
        });
        Sampling { stop, task }
    }

    /// One sample: every busy session, whose it is and what it waits on.
    async fn sample(&self) -> sqlx::Result<Vec<(Who, String)>> {
        match self {
            Sampler::Postgres(pool) => {
                let rows = sqlx::query(own_sql(PG_SAMPLE))
                    .bind(LOAD_APPLICATION)
                    .fetch_all(pool)
                    .await?;
                rows.iter()
                    .map(|row| {
                        let load: Option<bool> = row.try_get("load")?;
                        let backend: Option<String> = row.try_get("backend_type")?;
                        let wait: String = row.try_get("wait")?;
                        let backend = backend.unwrap_or_default();
                        Ok(match backend.as_str() {
                            _ if load == Some(true) => (Who::Load, wait),
                            "client backend" | "parallel worker" => (Who::Backfill, wait),
                            _ => (Who::Server, format!("{backend} {wait}")),
                        })
                    })
                    .collect()
            }
            Sampler::MySql(pool) => {
                let rows = sqlx::query(own_sql(MYSQL_SAMPLE)).fetch_all(pool).await?;
                rows.iter()
                    .map(|row| {
                        let info: String = row.try_get("info")?;
                        let state: String = row.try_get("state")?;
                        let state = if state.is_empty() {
                            "(no state)".to_string()
                        } else {
                            state
                        };
                        Ok((mysql_who(&info), state))
                    })
                    .collect()
            }
        }
    }
}

/// Whose a MySQL/MariaDB statement is, by its text: the load's point reads and updates
/// ([`OPS`], shown with their `?` or with the values bound), or else the backfill's.
fn mysql_who(info: &str) -> Who {
    let text = info.trim_start();
    let load = OPS
        .iter()
        .any(|(_, my)| text.starts_with(my.trim_end_matches('?')));
    if load {
        Who::Load
    } else {
        Who::Backfill
    }
}

impl Sampling {
    /// Stops sampling and returns the tallies.
    pub(crate) async fn stop(self) -> Waits {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::{mysql_who, Waits, Who};

    #[test]
    fn a_sample_with_enough_busy_load_sessions_is_piled() {
        let mut waits = Waits::default();
        let calm = [
            (Who::Load, "on CPU".to_string()),
            (Who::Backfill, "IO:DataFileRead".to_string()),
        ];
        waits.add(&calm);
        let stall: Vec<(Who, String)> = (0..4)
            .map(|_| (Who::Load, "LWLock:WALWrite".to_string()))
            .chain([(Who::Server, "walwriter IO:WALSync".to_string())])
            .collect();
        waits.add(&stall);
        assert_eq!(
            (waits.samples, waits.piled_samples, waits.load_busy),
            (2, 1, 5)
        );
        assert_eq!(waits.piled.get("LWLock:WALWrite"), Some(&4));
        assert_eq!(
            waits.piled.get("on CPU"),
            None,
            "the calm sample is not piled"
        );
        assert_eq!(
            Waits::top(&waits.load, 2),
            "`LWLock:WALWrite` 80%, `on CPU` 20%"
        );
        let mut pooled = waits.clone();
        pooled.merge(&waits);
        assert_eq!((pooled.samples, pooled.piled_samples), (4, 2));
        assert_eq!(pooled.server.get("walwriter IO:WALSync"), Some(&2));
        assert_eq!(Waits::top(&Default::default(), 3), "–");
    }

    #[test]
    fn the_load_is_told_from_the_backfill_by_its_statements() {
        assert_eq!(
            mysql_who("SELECT amount FROM events WHERE id = ?"),
            Who::Load
        );
        assert_eq!(
            mysql_who("SELECT amount FROM events WHERE id = 17"),
            Who::Load
        );
        assert_eq!(
            mysql_who("UPDATE user_stats SET last_seen = last_seen WHERE user_id = ?"),
            Who::Load
        );
        assert_eq!(
            mysql_who("UPDATE `backfill_progress` SET `cursor` = ?"),
            Who::Backfill
        );
        assert_eq!(
            mysql_who("INSERT INTO `user_stats` (`user_id`) SELECT ..."),
            Who::Backfill
        );
    }
}
