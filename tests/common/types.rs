//! Helpers of the key- and column-type tests (`tests/types.rs`, `tests/types_new_api.rs`):
//! values of every key type bound into inserts, byte-exact renderings of rows, runs that are
//! bounded in time and in number of resumes, a collation-aware comparison of two tables, and the
//! property driver that backfills random keys with random stops and compares the result with
//! the single-statement recompute.

use std::future::Future;
use std::time::Duration;

use backfill::{Definition, Engine, Error, Report, RunOptions, StopReason};

use super::{Db, Pool};

/// How long any single run may take before the test calls it a hang.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(20);

/// A value inserted into a test table (NULL is written as a literal, never bound, so its
/// parameter type cannot clash with the column's).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Val {
    Null,
    Int(i64),
    /// MySQL/MariaDB only (`BIGINT UNSIGNED`).
    U64(u64),
    Text(String),
    Bytes(Vec<u8>),
}

impl Val {
    pub fn text(s: &str) -> Val {
        Val::Text(s.to_string())
    }
}

/// How a column is rendered byte for byte in [`rows`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An integer or a number: its decimal text.
    Num,
    /// Text: the hex of its UTF-8 bytes (so case, accents and trailing spaces all count).
    Text,
    /// Binary: the hex of its bytes.
    Bytes,
}

/// Inserts `rows` into `table` (`columns` in order), bound, in chunks.
pub async fn insert(db: &Db, table: &str, columns: &[&str], rows: &[Vec<Val>]) {
    let cols: Vec<String> = columns.iter().map(|c| db.quote(c)).collect();
    for chunk in rows.chunks(200) {
        let mut n = 0;
        let tuples: Vec<String> = chunk
            .iter()
            .map(|row| {
                assert_eq!(row.len(), columns.len(), "a value per column");
                let cells: Vec<String> = row
                    .iter()
                    .map(|v| match v {
                        Val::Null => "NULL".to_string(),
                        _ => {
                            n += 1;
                            match db.engine {
                                Engine::Postgres => format!("${n}"),
                                _ => "?".to_string(),
                            }
                        }
                    })
                    .collect();
                format!("({})", cells.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO {} ({}) VALUES {}",
            db.quote(table),
            cols.join(", "),
            tuples.join(", ")
        );
        macro_rules! bind_all {
            ($pool:expr, |$q:ident, $u:ident| $u64:expr) => {{
                let mut q = sqlx::query(super::test_sql(&sql));
                for v in chunk.iter().flatten() {
                    q = match v {
                        Val::Null => q,
                        Val::Int(i) => q.bind(*i),
                        Val::U64(u) => {
                            let ($q, $u) = (q, *u);
                            $u64
                        }
                        Val::Text(s) => q.bind(s.clone()),
                        Val::Bytes(b) => q.bind(b.clone()),
                    };
                }
                q.execute($pool).await.map(|_| ())
            }};
        }
        let result = match &db.pool {
            Pool::Sqlite(p) => bind_all!(p, |q, u| {
                drop(q);
                panic!("u64 {u} is MySQL-only")
            }),
            Pool::Postgres(p) => bind_all!(p, |q, u| {
                drop(q);
                panic!("u64 {u} is MySQL-only")
            }),
            Pool::MySql(p) => bind_all!(p, |q, u| q.bind(u)),
        };
        result.unwrap_or_else(|e| panic!("{}: inserting into {table}: {e}", db.name()));
    }
}

/// The SQL rendering of `column` as exact text for `kind` on this engine.
pub fn render(db: &Db, column: &str, kind: Kind) -> String {
    let c = db.quote(column);
    match (db.engine, kind) {
        (Engine::MySql, Kind::Num) => format!("CAST({c} AS CHAR)"),
        (_, Kind::Num) => format!("CAST({c} AS TEXT)"),
        (Engine::Postgres, Kind::Text) => {
            format!("encode(convert_to(CAST({c} AS TEXT), 'UTF8'), 'hex')")
        }
        (Engine::Postgres, Kind::Bytes) => format!("encode({c}, 'hex')"),
        (Engine::MySql, _) => format!("HEX({c})"),
        (Engine::Sqlite, _) => format!("hex({c})"),
    }
}

/// Every row of `table`, each rendered byte for byte (`columns` with their kinds, `|`
/// separated, NULL as `<null>`), sorted: two tables are equal row for row exactly when these
/// lists are.
pub async fn rows(db: &Db, table: &str, columns: &[(&str, Kind)]) -> Vec<String> {
    let cells: Vec<String> = columns
        .iter()
        .map(|(c, k)| format!("COALESCE({}, '<null>')", render(db, c, *k)))
        .collect();
    let concat = match db.engine {
        Engine::MySql => format!("CONCAT_WS('|', {})", cells.join(", ")),
        _ => cells.join(" || '|' || "),
    };
    let mut out = db
        .strings(&format!("SELECT {concat} FROM {}", db.quote(table)))
        .await;
    out.sort();
    out
}

/// Counts the rows of `a` that have a row in `b` equal on every column of `columns`, compared
/// with the columns' own `=` (so under their collation: case-folded for `citext`, `NOCASE`,
/// `utf8mb4_general_ci`).
pub async fn matching_rows(db: &Db, a: &str, b: &str, columns: &[&str]) -> i64 {
    // NULL-safe equality that still compares with the column's collation.
    let op = match db.engine {
        Engine::Postgres => "IS NOT DISTINCT FROM",
        Engine::MySql => "<=>",
        Engine::Sqlite => "IS",
    };
    let on: Vec<String> = columns
        .iter()
        .map(|c| format!("x.{0} {op} y.{0}", db.quote(c)))
        .collect();
    db.scalar(&format!(
        "SELECT count(*) FROM {} x JOIN {} y ON {}",
        db.quote(a),
        db.quote(b),
        on.join(" AND ")
    ))
    .await
}

/// Row count of a table.
pub async fn count(db: &Db, table: &str) -> i64 {
    db.scalar(&format!("SELECT count(*) FROM {}", db.quote(table)))
        .await
}

/// Runs `body` on every engine of `dbs`, each in a task of its own, so that a failure on one
/// engine does not hide the others; panics at the end with every engine's failure.
pub async fn each<F, Fut>(dbs: Vec<Db>, body: F)
where
    F: Fn(Db) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut failures = Vec::new();
    for db in dbs {
        let name = db.name();
        if let Err(e) = tokio::spawn(body(db)).await {
            let message = match e.try_into_panic() {
                Ok(panic) => panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "a panic".to_string()),
                Err(e) => e.to_string(),
            };
            failures.push(format!("[{name}] {message}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} engine(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// One run, failing the test if it takes longer than [`RUN_TIMEOUT`] (a run that never ends
/// is the bug some of these tests reproduce).
pub async fn run(db: &Db, def: &'static Definition, options: RunOptions) -> Result<Report, Error> {
    match tokio::time::timeout(RUN_TIMEOUT, db.run(def, options)).await {
        Ok(result) => result,
        Err(_) => panic!(
            "{}: {}: the run did not end within {RUN_TIMEOUT:?} (a cursor that never passes the last key?)",
            db.name(),
            def.name
        ),
    }
}

/// Preflight, bounded like [`run`].
pub async fn check(db: &Db, def: &'static Definition) -> Result<(), Error> {
    match tokio::time::timeout(RUN_TIMEOUT, db.check(def)).await {
        Ok(result) => result,
        Err(_) => panic!("{}: {}: check hung", db.name(), def.name),
    }
}

/// Verify, bounded like [`run`].
pub async fn verify(db: &Db, def: &'static Definition) -> backfill::VerifyReport {
    match tokio::time::timeout(RUN_TIMEOUT, db.verify(def)).await {
        Ok(result) => result.unwrap_or_else(|e| panic!("{}: {}: verify: {e}", db.name(), def.name)),
        Err(_) => panic!("{}: {}: verify hung", db.name(), def.name),
    }
}

/// A run that must stop at its `max_batches` (`MaxBatches`), bounded in time.
pub async fn run_stopped(db: &Db, def: &'static Definition, options: RunOptions) -> Report {
    let report = run(db, def, options)
        .await
        .unwrap_or_else(|e| panic!("{}: {}: run failed: {e}", db.name(), def.name));
    assert_eq!(
        report.stop,
        StopReason::MaxBatches,
        "{}: {}",
        db.name(),
        def.name
    );
    report
}

/// A run that must finish (`Done`), bounded in time.
pub async fn run_done(db: &Db, def: &'static Definition, options: RunOptions) -> Report {
    let report = run(db, def, options)
        .await
        .unwrap_or_else(|e| panic!("{}: {}: run failed: {e}", db.name(), def.name));
    assert_eq!(report.stop, StopReason::Done, "{}: {}", db.name(), def.name);
    report
}

/// `CREATE EXTENSION citext` once in `public` (tolerating another test creating it at the same
/// moment); the type is then `public.citext` from every test schema.
pub async fn ensure_citext(db: &Db) {
    ensure_extension(db, "citext").await;
}

/// `gen_random_uuid()` on PostgreSQL: core from 13 on, the `pgcrypto` extension (in `public`)
/// on 12, the oldest major the README claims.
pub async fn ensure_gen_random_uuid(db: &Db) {
    if db
        .scalar("SELECT current_setting('server_version_num')::bigint")
        .await
        < 130_000
    {
        ensure_extension(db, "pgcrypto").await;
    }
}

/// `CREATE EXTENSION IF NOT EXISTS name SCHEMA public`, tolerating a test beside it creating
/// it at the same moment.
async fn ensure_extension(db: &Db, name: &str) {
    let Pool::Postgres(pool) = &db.pool else {
        panic!("extensions are PostgreSQL-only")
    };
    let sql = format!("CREATE EXTENSION IF NOT EXISTS {name} SCHEMA public");
    for attempt in 0..5 {
        match sqlx::query(super::test_sql(&sql)).execute(pool).await {
            Ok(_) => return,
            Err(e) => {
                let text = e.to_string();
                let race = text.contains("already exists")
                    || e.as_database_error()
                        .and_then(|d| d.code())
                        .is_some_and(|c| c == "23505" || c == "42710");
                if race && attempt < 4 {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
                if race {
                    return;
                }
                panic!("create extension {name}: {e}");
            }
        }
    }
}

/// The nondeterministic, case-insensitive ICU collation `ci` in the test's schema.
pub async fn create_ci_collation(db: &Db) {
    db.exec(
        "CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)",
    )
    .await;
}

/// Drops the tables if they exist.
pub async fn drop_tables(db: &Db, tables: &[&str]) {
    for t in tables {
        db.exec(&format!("DROP TABLE IF EXISTS {}", db.quote(t)))
            .await;
    }
}

/// The shape of one property case: a source `src (id, <keys nullable>, v)` and a target
/// `target (<keys>, n, hi)` keyed on the key columns; the definition maps
/// `n = count(*)`, `hi = max(v)` grouped by the key.
pub struct Shape {
    /// What the cases are called in messages.
    pub name: &'static str,
    pub def: &'static Definition,
    pub src: &'static str,
    pub target: &'static str,
    /// Key columns: name, SQL type on this engine, and how to render it.
    pub keys: Vec<(&'static str, String, Kind)>,
    /// Whether the key columns compare byte for byte (then the tables must be identical byte
    /// for byte; otherwise which variant of a key group is stored is arbitrary and the keys are
    /// compared with the columns' own `=`).
    pub exact: bool,
}

impl Shape {
    fn ddl(&self, db: &Db) -> Vec<String> {
        let int = match db.engine {
            Engine::Sqlite => "INTEGER",
            _ => "BIGINT",
        };
        let key_cols: Vec<String> = self
            .keys
            .iter()
            .map(|(c, ty, _)| format!("{} {ty}", db.quote(c)))
            .collect();
        let key_names: Vec<String> = self.keys.iter().map(|(c, _, _)| db.quote(c)).collect();
        let target = |name: &str| {
            let not_null: Vec<String> = key_cols.iter().map(|c| format!("{c} NOT NULL")).collect();
            format!(
                "CREATE TABLE {} ({}, n {int} NOT NULL, hi {int} NULL, PRIMARY KEY ({}))",
                db.quote(name),
                not_null.join(", "),
                key_names.join(", ")
            )
        };
        vec![
            format!(
                "CREATE TABLE {} (id {int} PRIMARY KEY, {}, v {int} NULL)",
                db.quote(self.src),
                key_cols.join(", ")
            ),
            target(self.target),
            target(&self.copy()),
        ]
    }

    fn copy(&self) -> String {
        format!("{}_backfilled", self.target)
    }

    fn columns(&self) -> Vec<(&'static str, Kind)> {
        let mut cols: Vec<(&'static str, Kind)> =
            self.keys.iter().map(|(c, _, k)| (*c, *k)).collect();
        cols.push(("n", Kind::Num));
        cols.push(("hi", Kind::Num));
        cols
    }
}

/// Runs `cases` random cases of `shape` on `db`: each case makes fresh tables, fills the source
/// with 0..=20 keys drawn by `key` (each on 1..=3 rows, plus some rows with a NULL key when
/// `null_rows`), backfills it in batches of a random 1..=5 keys stopped every random 1..=4
/// batches and resumed until done, then checks that verify is clean and that the target equals
/// the single-statement recompute. Returns the number of cases run.
pub async fn property(
    db: &Db,
    shape: &Shape,
    cases: u64,
    base_seed: u64,
    null_rows: bool,
    key: &(dyn Fn(&mut fastrand::Rng) -> Vec<Val> + Send + Sync),
) -> u64 {
    let copy = shape.copy();
    let key_names: Vec<&str> = shape.keys.iter().map(|(c, _, _)| *c).collect();
    let mut src_cols = vec!["id"];
    src_cols.extend(key_names.iter().copied());
    src_cols.push("v");
    let all_cols: Vec<&str> = shape.columns().iter().map(|(c, _)| *c).collect();
    for case in 0..cases {
        let seed = base_seed.wrapping_mul(1_000_003).wrapping_add(case);
        let what = format!(
            "{}: {} case {case} (seed {seed}, fastrand::Rng::with_seed)",
            db.name(),
            shape.name
        );
        let mut rng = fastrand::Rng::with_seed(seed);
        drop_tables(db, &[shape.src, shape.target, &copy]).await;
        for sql in shape.ddl(db) {
            db.exec(&sql).await;
        }
        let distinct = rng.usize(0..=20);
        let mut rows = Vec::new();
        for _ in 0..distinct {
            let k = key(&mut rng);
            for _ in 0..rng.usize(1..=3) {
                rows.push(k.clone());
            }
        }
        if null_rows {
            for _ in 0..rng.usize(0..=2) {
                rows.push(vec![Val::Null; key_names.len()]);
            }
        }
        rng.shuffle(&mut rows);
        let rows: Vec<Vec<Val>> = rows
            .into_iter()
            .enumerate()
            .map(|(i, k)| {
                let mut row = vec![Val::Int(i as i64 + 1)];
                row.extend(k);
                row.push(if rng.u8(..) < 20 {
                    Val::Null
                } else {
                    Val::Int(rng.i64(-1000..=1000))
                });
                row
            })
            .collect();
        insert(db, shape.src, &src_cols, &rows).await;

        let batch = rng.u64(1..=5);
        let mut keys = 0;
        let mut runs = 0;
        let mut finished = false;
        // Every run that does not finish commits at least one batch of at least one key.
        let bound = rows.len() + 3;
        while runs < bound {
            let mut options = RunOptions::default()
                .batch_size(batch)
                .max_batches(rng.u64(1..=4));
            if runs == 0 {
                options = options.restart(true);
            }
            let report = run(db, shape.def, options)
                .await
                .unwrap_or_else(|e| panic!("{what}: run {runs} (batch size {batch}): {e}"));
            runs += 1;
            keys += report.keys;
            if report.finished() {
                finished = true;
                break;
            }
            assert_eq!(report.stop, StopReason::MaxBatches, "{what}");
        }
        assert!(
            finished,
            "{what}: not done after {runs} runs of batch size {batch} over {} rows",
            rows.len()
        );

        let report = verify(db, shape.def).await;
        assert!(
            report.is_clean(),
            "{what}: batch size {batch}: verify after the run: {report}"
        );
        // Keep the backfilled table, recompute into the target, compare.
        db.exec(&format!(
            "INSERT INTO {} SELECT * FROM {}",
            db.quote(&copy),
            db.quote(shape.target)
        ))
        .await;
        db.recompute_all(shape.def, shape.target).await;
        let expected = count(db, shape.target).await;
        let got = count(db, &copy).await;
        assert_eq!(
            got, expected,
            "{what}: batch size {batch}: rows backfilled vs recomputed"
        );
        let matched = matching_rows(db, &copy, shape.target, &all_cols).await;
        assert_eq!(
            matched, expected,
            "{what}: batch size {batch}: backfilled rows equal (under the columns' collation) to a recomputed row;\nbackfilled: {:?}\nrecomputed: {:?}",
            self::rows(db, &copy, &shape.columns()).await,
            self::rows(db, shape.target, &shape.columns()).await,
        );
        assert_eq!(
            keys, expected as u64,
            "{what}: batch size {batch}: keys processed over all runs vs keys recomputed"
        );
        if shape.exact {
            let backfilled = self::rows(db, &copy, &shape.columns()).await;
            let recomputed = self::rows(db, shape.target, &shape.columns()).await;
            assert_eq!(
                checksum(&backfilled),
                checksum(&recomputed),
                "{what}: batch size {batch}: byte-exact tables differ;\nbackfilled: {backfilled:?}\nrecomputed: {recomputed:?}"
            );
        }
    }
    cases
}

/// A checksum of rendered rows.
pub fn checksum(rows: &[String]) -> (usize, u64) {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    rows.hash(&mut hasher);
    (rows.len(), hasher.finish())
}

/// Integers at and near the limits, and some random ones.
pub fn int_key(rng: &mut fastrand::Rng) -> i64 {
    const EDGES: &[i64] = &[
        i64::MIN + 1,
        i64::MIN + 2,
        -1_000_000_007,
        -2,
        -1,
        0,
        1,
        2,
        1_000_000_007,
        i64::MAX - 1,
        i64::MAX,
    ];
    match rng.u8(0..4) {
        0 => rng.i64(i64::MIN + 1..=i64::MAX),
        1 => rng.i64(-5..=5),
        _ => EDGES[rng.usize(..EDGES.len())],
    }
}

/// Text of 0..=4 pieces that stress collations: case variants, accents (precomposed and
/// combining), trailing and leading spaces, `ß`, CJK, an emoji, SQL metacharacters.
pub fn text_key(rng: &mut fastrand::Rng) -> String {
    const PIECES: &[&str] = &[
        "a", "A", "b", "B", "e", "é", "É", "e\u{301}", " ", "  ", "ß", "SS", "z", "Z", "0", "_",
        "%", "'", "東", "😀", "-", "i", "I", "ı",
    ];
    let len = match rng.u8(0..10) {
        0 => 0,
        1 => 6,
        _ => rng.usize(1..=3),
    };
    let mut s: String = (0..len)
        .map(|_| PIECES[rng.usize(..PIECES.len())])
        .collect();
    if rng.u8(0..6) == 0 {
        s.push(' ');
    }
    s
}

/// Bytes of length 0..=5 that are often not UTF-8: 0x00, 0xFF, 0x80, ASCII letters.
pub fn bytes_key(rng: &mut fastrand::Rng) -> Vec<u8> {
    const BYTES: &[u8] = &[
        0x00, 0x01, b'a', b'A', b'b', 0x7F, 0x80, 0xC3, 0xFE, 0xFF, b' ',
    ];
    let len = match rng.u8(0..8) {
        0 => 0,
        _ => rng.usize(1..=5),
    };
    (0..len).map(|_| BYTES[rng.usize(..BYTES.len())]).collect()
}

/// Unsigned 64-bit keys across the whole range, the top half included.
pub fn u64_key(rng: &mut fastrand::Rng) -> u64 {
    const EDGES: &[u64] = &[
        0,
        1,
        2,
        i64::MAX as u64 - 1,
        i64::MAX as u64,
        i64::MAX as u64 + 1,
        i64::MAX as u64 + 2,
        u64::MAX - 1,
        u64::MAX,
    ];
    match rng.u8(0..3) {
        0 => rng.u64(..),
        _ => EDGES[rng.usize(..EDGES.len())],
    }
}
