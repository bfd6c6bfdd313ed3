//! The upsert scenario's own SQL per engine: the schema of `events`, `user_stats` and its
//! reference copy, the set-based seed (PostgreSQL `generate_series`, MariaDB a cross join of
//! digits, SQLite a recursive CTE), the pages the checksum reads, the hand-written loop's
//! statements, and what the section reports about the server. The backfill's SQL is the
//! generated one.

use backfill::Engine;

/// The benchmark's own SQL on one engine: schema, seed, checks and the hand-written loop. The
/// backfill's SQL is the generated one.
pub(crate) struct EngineSql {
    /// Drops and creates the tables (no index on `events` yet: it is built after the seed).
    pub(crate) setup: &'static [&'static str],
    /// Seeds `events`; binds the number of events, then the number of users.
    pub(crate) seed: String,
    /// Run after the seed: the index on `events(user_id)`, statistics.
    pub(crate) after_seed: &'static [&'static str],
    /// Empties the target.
    pub(crate) truncate: &'static str,
    /// Drops the progress table, so a run into an empty target starts with default options.
    pub(crate) drop_progress: &'static str,
    /// Copies the limit's target to `user_stats_ref`, for the hand-written loop's check.
    pub(crate) snapshot: &'static [&'static str],
    /// One page of the target in key order; binds the last key read, the page size.
    pub(crate) page: &'static str,
    /// One page of aggregates for the hand-written loop; binds the last user, the page size.
    pub(crate) hand_fetch: &'static str,
    /// One row's upsert for the hand-written loop; binds the four columns.
    pub(crate) hand_upsert: &'static str,
    /// The server's version.
    pub(crate) version: &'static str,
    /// The settings that matter for write throughput, as one text.
    pub(crate) settings: &'static str,
    /// The tables are dropped at the end (unless `--keep`).
    pub(crate) teardown: &'static str,
}

/// Rows of the hand-written loop's target that differ from the limit's (same on every engine).
pub(crate) const HAND_DIFF: &str = "SELECT count(*) FROM user_stats AS h \
    LEFT JOIN user_stats_ref AS r ON r.user_id = h.user_id \
    WHERE r.user_id IS NULL OR r.event_count <> h.event_count \
    OR r.total_amount <> h.total_amount OR r.last_seen <> h.last_seen";

impl EngineSql {
    pub(crate) fn new(engine: Engine, events: i64) -> EngineSql {
        match engine {
            Engine::Postgres => Self::postgres(),
            Engine::MySql => Self::mysql(events),
            Engine::Sqlite => Self::sqlite(),
        }
    }

    /// PostgreSQL's statements.
    fn postgres() -> EngineSql {
        EngineSql {
            setup: &[
                "DROP TABLE IF EXISTS events, user_stats, user_stats_ref, backfill_progress",
                "CREATE TABLE events (id BIGINT PRIMARY KEY, user_id BIGINT, amount BIGINT NOT NULL, created_at TIMESTAMP NOT NULL)",
                "CREATE TABLE user_stats (user_id BIGINT PRIMARY KEY, event_count BIGINT NOT NULL, total_amount BIGINT NOT NULL, last_seen TIMESTAMP NOT NULL)",
                "CREATE TABLE user_stats_ref (user_id BIGINT PRIMARY KEY, event_count BIGINT NOT NULL, total_amount BIGINT NOT NULL, last_seen TIMESTAMP NOT NULL)",
            ],
            seed: "INSERT INTO events (id, user_id, amount, created_at) \
                   SELECT i, CASE WHEN i % 101 = 0 THEN NULL ELSE (i * 7919) % $2 + 1 END, (i * 31) % 1000, \
                          TIMESTAMP '2024-01-01' + i * INTERVAL '17 seconds' \
                   FROM generate_series(1, $1::bigint) AS i"
                .to_string(),
            after_seed: &[
                "CREATE INDEX events_user_id ON events (user_id)",
                "VACUUM ANALYZE events",
            ],
            truncate: "TRUNCATE user_stats",
            drop_progress: "DROP TABLE IF EXISTS backfill_progress",
            snapshot: &[
                "TRUNCATE user_stats_ref",
                "INSERT INTO user_stats_ref SELECT * FROM user_stats",
            ],
            page: "SELECT user_id, event_count, total_amount, last_seen FROM user_stats \
                   WHERE user_id > $1 ORDER BY user_id LIMIT $2",
            hand_fetch: "SELECT user_id, count(*), sum(amount)::bigint, max(created_at) FROM events \
                         WHERE user_id > $1 GROUP BY user_id ORDER BY user_id LIMIT $2",
            hand_upsert: "INSERT INTO user_stats (user_id, event_count, total_amount, last_seen) \
                          VALUES ($1, $2, $3, $4) ON CONFLICT (user_id) DO UPDATE SET \
                          event_count = EXCLUDED.event_count, total_amount = EXCLUDED.total_amount, \
                          last_seen = EXCLUDED.last_seen",
            version: "SELECT 'PostgreSQL ' || current_setting('server_version')",
            settings: "SELECT 'shared_buffers ' || current_setting('shared_buffers') \
                       || ', work_mem ' || current_setting('work_mem') \
                       || ', synchronous_commit ' || current_setting('synchronous_commit') \
                       || ', fsync ' || current_setting('fsync') \
                       || ', wal_level ' || current_setting('wal_level')",
            teardown: "DROP SCHEMA bench CASCADE",
        }
    }

    /// MySQL/MariaDB's statements (the seed in chunks of `events`).
    fn mysql(events: i64) -> EngineSql {
        EngineSql {
            setup: &[
                "DROP TABLE IF EXISTS events, user_stats, user_stats_ref, backfill_progress",
                "CREATE TABLE events (id BIGINT PRIMARY KEY, user_id BIGINT NULL, amount BIGINT NOT NULL, created_at DATETIME NOT NULL)",
                "CREATE TABLE user_stats (user_id BIGINT PRIMARY KEY, event_count BIGINT NOT NULL, total_amount BIGINT NOT NULL, last_seen DATETIME NOT NULL)",
                "CREATE TABLE user_stats_ref (user_id BIGINT PRIMARY KEY, event_count BIGINT NOT NULL, total_amount BIGINT NOT NULL, last_seen DATETIME NOT NULL)",
            ],
            seed: mysql_seed(events),
            after_seed: &[
                "ALTER TABLE events ADD INDEX events_user_id (user_id)",
                "ANALYZE TABLE events",
            ],
            truncate: "TRUNCATE TABLE user_stats",
            drop_progress: "DROP TABLE IF EXISTS backfill_progress",
            snapshot: &[
                "TRUNCATE TABLE user_stats_ref",
                "INSERT INTO user_stats_ref SELECT * FROM user_stats",
            ],
            page: "SELECT user_id, event_count, total_amount, last_seen FROM user_stats \
                   WHERE user_id > ? ORDER BY user_id LIMIT ?",
            hand_fetch: "SELECT user_id, count(*), CAST(sum(amount) AS SIGNED), max(created_at) FROM events \
                         WHERE user_id > ? GROUP BY user_id ORDER BY user_id LIMIT ?",
            hand_upsert: "INSERT INTO user_stats (user_id, event_count, total_amount, last_seen) \
                          VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE \
                          event_count = VALUES(event_count), total_amount = VALUES(total_amount), \
                          last_seen = VALUES(last_seen)",
            version: "SELECT CAST(CONCAT(IF(VERSION() LIKE '%MariaDB%', 'MariaDB ', 'MySQL '), VERSION()) AS CHAR)",
            settings: "SELECT CAST(CONCAT('innodb_buffer_pool_size ', @@innodb_buffer_pool_size DIV 1048576, 'MB', \
                       ', innodb_flush_log_at_trx_commit ', @@innodb_flush_log_at_trx_commit, \
                       ', log_bin ', @@log_bin) AS CHAR)",
            teardown: "DROP DATABASE backfill_bench",
        }
    }

    /// SQLite's statements.
    fn sqlite() -> EngineSql {
        EngineSql {
            setup: &[
                "DROP TABLE IF EXISTS events",
                "DROP TABLE IF EXISTS user_stats",
                "DROP TABLE IF EXISTS user_stats_ref",
                "DROP TABLE IF EXISTS backfill_progress",
                "CREATE TABLE events (id INTEGER PRIMARY KEY, user_id INTEGER, amount INTEGER NOT NULL, created_at TEXT NOT NULL)",
                "CREATE TABLE user_stats (user_id INTEGER PRIMARY KEY, event_count INTEGER NOT NULL, total_amount INTEGER NOT NULL, last_seen TEXT NOT NULL)",
                "CREATE TABLE user_stats_ref (user_id INTEGER PRIMARY KEY, event_count INTEGER NOT NULL, total_amount INTEGER NOT NULL, last_seen TEXT NOT NULL)",
            ],
            seed: "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1) \
                   INSERT INTO events (id, user_id, amount, created_at) \
                   SELECT i, CASE WHEN i % 101 = 0 THEN NULL ELSE (i * 7919) % ?2 + 1 END, (i * 31) % 1000, \
                          datetime('2024-01-01', '+' || (i * 17) || ' seconds') \
                   FROM n"
                .to_string(),
            after_seed: &["CREATE INDEX events_user_id ON events (user_id)", "ANALYZE"],
            truncate: "DELETE FROM user_stats",
            drop_progress: "DROP TABLE IF EXISTS backfill_progress",
            snapshot: &[
                "DELETE FROM user_stats_ref",
                "INSERT INTO user_stats_ref SELECT * FROM user_stats",
            ],
            page: "SELECT user_id, event_count, total_amount, last_seen FROM user_stats \
                   WHERE user_id > ? ORDER BY user_id LIMIT ?",
            hand_fetch: "SELECT user_id, count(*), sum(amount), max(created_at) FROM events \
                         WHERE user_id > ? GROUP BY user_id ORDER BY user_id LIMIT ?",
            hand_upsert: "INSERT INTO user_stats (user_id, event_count, total_amount, last_seen) \
                          VALUES (?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET \
                          event_count = excluded.event_count, total_amount = excluded.total_amount, \
                          last_seen = excluded.last_seen",
            version: "SELECT 'SQLite ' || sqlite_version()",
            settings: "SELECT 'journal_mode ' || (SELECT journal_mode FROM pragma_journal_mode) \
                       || ', synchronous ' || CASE (SELECT synchronous FROM pragma_synchronous) \
                          WHEN 0 THEN 'OFF' WHEN 1 THEN 'NORMAL' WHEN 2 THEN 'FULL' ELSE 'EXTRA' END",
            teardown: "SELECT 1",
        }
    }
}

/// MariaDB/MySQL seed: the numbers `1..=events` from a cross join of as many copies of a digits
/// table as `events` has digits (no recursion limit to raise). Binds events, then users.
fn mysql_seed(events: i64) -> String {
    let width = events.to_string().len();
    let number: Vec<String> = (0..width)
        .map(|k| format!("{} * d{k}.d", 10_i64.pow(k as u32)))
        .collect();
    let joins: Vec<String> = (0..width).map(|k| format!("digits AS d{k}")).collect();
    format!(
        "INSERT INTO events (id, user_id, amount, created_at) \
         WITH digits (d) AS (SELECT 0 UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 \
           UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 \
           UNION ALL SELECT 8 UNION ALL SELECT 9) \
         SELECT n.i, CASE WHEN n.i % 101 = 0 THEN NULL ELSE (n.i * 7919) % p.users + 1 END, \
                (n.i * 31) % 1000, TIMESTAMP '2024-01-01 00:00:00' + INTERVAL (n.i * 17) SECOND \
         FROM (SELECT CAST(? AS SIGNED) AS events, CAST(? AS SIGNED) AS users) AS p \
         JOIN (SELECT {} + 1 AS i FROM {}) AS n ON n.i <= p.events",
        number.join(" + "),
        joins.join(" CROSS JOIN ")
    )
}
