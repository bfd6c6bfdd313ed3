//! The command line end to end, as a user runs it: the built `service` example (four backfills
//! behind `backfill::cli`) as a child process, on every available engine.
//!
//! The example is built once per test binary with `cargo build --example service` into the same
//! target directory and profile as this test (examples have no `CARGO_BIN_EXE_*`).

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::Db;

/// Users in the demo data: small, so every run is quick; batches are made small where a test
/// needs many of them.
const USERS: &str = "300";

/// The built example binary.
fn service() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test binary's path");
        // <target>/<profile>/deps/cli-<hash>
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test binary is in <target>/<profile>/deps");
        let target_dir = profile_dir.parent().expect("a target directory");
        let profile = profile_dir
            .file_name()
            .and_then(|p| p.to_str())
            .expect("a profile directory name");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
        let mut build = Command::new(cargo);
        build
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["build", "--quiet", "--example", "service", "--target-dir"])
            .arg(target_dir);
        match profile {
            "debug" => {}
            "release" => {
                build.arg("--release");
            }
            other => {
                build.args(["--profile", other]);
            }
        }
        let status = build.status().expect("run cargo build --example service");
        assert!(status.success(), "cargo build --example service failed");
        let bin = profile_dir
            .join("examples")
            .join(format!("service{}", std::env::consts::EXE_SUFFIX));
        assert!(bin.exists(), "{} was not built", bin.display());
        bin
    })
}

/// The command for `args` against `url`, with a clean environment for the things it reads.
fn command(url: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(service());
    cmd.arg("--database-url")
        .arg(url)
        .args(["--connect-timeout", "20s"])
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("BACKFILL_DEMO_SEED")
        .env_remove("BACKFILL_LOG")
        .env("BACKFILL_DEMO_USERS", USERS)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    cmd
}

/// A finished command's exit code and output.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn from(output: Output) -> Ran {
        Ran {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Panics with both outputs unless the exit code is `code`.
    fn expect(self, code: i32, what: &str) -> Ran {
        assert_eq!(
            self.code,
            Some(code),
            "{what}: exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

fn cli(url: &str, args: &[&str]) -> Ran {
    Ran::from(
        command(url, args)
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", service().display())),
    )
}

/// Seeds the demo schema into `db`'s namespace.
fn seed(db: &Db) {
    cli(&db.url, &["--seed"]).expect(0, &format!("{}: --seed", db.name()));
}

/// Ordered checksum of the whole `user_stats` table.
async fn user_stats(db: &Db) -> (usize, u64) {
    db.checksum(
        "user_stats",
        &["user_id", "event_count", "total_amount", "last_event_id"],
        &["user_id"],
    )
    .await
}

#[tokio::test]
async fn runs_each_backfill_to_completion_and_reports_status() {
    for db in common::engines("cli_complete").await {
        let name = db.name();
        seed(&db);
        let status = cli(&db.url, &["status"]).expect(0, "status before");
        assert_eq!(
            status.stdout.matches("not started").count(),
            4,
            "{name}: {}",
            status.stdout
        );
        let check = cli(&db.url, &["check", "UserStats"]).expect(0, "check");
        let plan = cli(&db.url, &["plan", "UserStats", "--batch-size", "100"]).expect(0, "plan");
        // Both say how the ranges read the source, and what to do about it.
        for out in [&check.stdout, &plan.stdout] {
            for line in [
                "access path of the source:",
                "source:             events",
                "verdict:",
                "recommendation:",
                "explain of one range's read:",
            ] {
                assert!(out.contains(line), "{name}: {line:?} in {out}");
            }
        }
        // The service's backfills are schema-checked against examples/migrations: check says
        // which migrations, and that the seeded (migrated) table matches them.
        let migrations =
            format!("schema checked at build against the migrations in examples/migrations/{name}");
        assert!(
            check.stdout.contains(&migrations),
            "{name}: {}",
            check.stdout
        );
        assert!(
            check.stdout.contains("the live table matches them"),
            "{name}: {}",
            check.stdout
        );
        assert!(
            plan.stdout.contains("estimated batches: 3"),
            "{name}: {}",
            plan.stdout
        );
        assert!(
            plan.stdout
                .contains("first batch:       keys <= 100 (100 keys)"),
            "{name}: {}",
            plan.stdout
        );
        assert_eq!(
            db.scalar("SELECT count(*) FROM user_stats").await,
            0,
            "{name}: plan wrote nothing"
        );

        // In place: plan and sql show the UPDATE; the column is empty before the run.
        let sql = cli(&db.url, &["sql", "UserOrderCount"]).expect(0, "sql in place");
        assert!(sql.stdout.contains("UPDATE "), "{name}: {}", sql.stdout);
        let plan = cli(&db.url, &["plan", "UserOrderCount", "--batch-size", "100"])
            .expect(0, "plan in place");
        assert!(
            plan.stdout.contains("estimated batches: 3"),
            "{name}: {}",
            plan.stdout
        );
        assert_eq!(
            db.scalar("SELECT count(*) FROM users WHERE order_count IS NULL")
                .await,
            300,
            "{name}: plan wrote nothing"
        );
        for backfill in [
            "UserStats",
            "OrderFacts",
            "DefaultSettings",
            "UserOrderCount",
        ] {
            let run = cli(&db.url, &["run", backfill, "--batch-size", "100"])
                .expect(0, &format!("{name}: run {backfill}"));
            assert!(
                run.stdout.starts_with("done: job "),
                "{name}: {}",
                run.stdout
            );
            cli(&db.url, &["verify", backfill]).expect(0, &format!("{name}: verify {backfill}"));
        }
        let run = cli(&db.url, &["run", "UserStats"]).expect(0, "run again");
        assert!(
            run.stdout.contains("already done"),
            "{name}: {}",
            run.stdout
        );

        let status = cli(&db.url, &["status", "UserStats"]).expect(0, "status after");
        let row = status
            .stdout
            .lines()
            .find(|l| l.starts_with("UserStats"))
            .unwrap_or_else(|| panic!("{name}: no UserStats row in\n{}", status.stdout));
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(
            &cells[..5],
            ["UserStats", "user_stats", "done", "300", "100.0%"],
            "{name}: {row}"
        );
        assert_eq!(cells[5], "300", "{name}: rows written: {row}");

        // The write-once backfill left the user's own choice alone.
        let theme = db
            .strings("SELECT theme FROM default_settings WHERE user_id = 1")
            .await;
        assert_eq!(theme, ["dark"], "{name}");
        assert_eq!(
            db.scalar("SELECT count(*) FROM default_settings").await,
            300,
            "{name}"
        );
        // Cancelled orders (every fifth) are filtered out of the denormalized copy.
        assert_eq!(
            db.scalar("SELECT count(*) FROM order_facts").await,
            720,
            "{name}"
        );
        // In place: every user got the count of their orders, and no row was inserted.
        assert_eq!(
            db.scalar(
                "SELECT count(*) FROM users u WHERE order_count IS NULL \
                 OR order_count <> (SELECT count(*) FROM orders o WHERE o.user_id = u.id)"
            )
            .await,
            0,
            "{name}"
        );
        assert_eq!(db.scalar("SELECT count(*) FROM users").await, 300, "{name}");
        let again = cli(&db.url, &["run", "UserOrderCount", "--restart"]).expect(0, "re-run");
        assert!(
            again.stdout.contains(" 0 rows written"),
            "{name}: {}",
            again.stdout
        );

        // The scan strategy from the command line: plan says so, the run reports its chunks
        // and staging table, status shows the partials phase, verify is clean.
        let plan = cli(&db.url, &["plan", "UserStats", "--strategy", "scan"])
            .expect(0, "plan with the scan");
        assert!(
            plan.stdout.contains("strategy:          scan (asked for"),
            "{name}: {}",
            plan.stdout
        );
        let scan = cli(
            &db.url,
            &[
                "run",
                "UserStats",
                "--strategy",
                "scan",
                "--restart",
                "--scan-chunk-rows",
                "500",
            ],
        )
        .expect(0, "run with the scan");
        assert!(
            scan.stdout
                .contains("chunks into backfill_stage_user_stats"),
            "{name}: {}",
            scan.stdout
        );
        let status = cli(&db.url, &["status", "UserStats"]).expect(0, "status after the scan");
        assert!(
            status
                .stdout
                .contains("scan: partials done (user_stats/partials)")
                && status
                    .stdout
                    .contains("backfill_stage_user_stats (dropped)"),
            "{name}: {}",
            status.stdout
        );
        cli(&db.url, &["verify", "UserStats"]).expect(0, "verify after the scan");
        let auto = cli(&db.url, &["plan", "UserStats"]).expect(0, "plan with auto");
        assert!(
            auto.stdout.contains("strategy:          ranges ("),
            "{name}: {}",
            auto.stdout
        );
    }
}

/// Polls `status UserStats` until the job shows a committed cursor while it runs.
fn wait_for_cursor(url: &str, name: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let status = cli(url, &["status", "UserStats"]).expect(0, "status during the run");
        if let Some(row) = status.stdout.lines().find(|l| l.starts_with("UserStats")) {
            let cells: Vec<&str> = row.split_whitespace().collect();
            if cells.get(2) == Some(&"running") && cells.get(3).is_some_and(|c| *c != "-") {
                return row.to_string();
            }
        }
        assert!(
            Instant::now() < deadline,
            "{name}: the run never showed a cursor in status:\n{}",
            status.stdout
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test]
async fn sigint_stops_gracefully_and_the_printed_command_resumes_to_the_same_table() {
    for db in common::engines("cli_sigint").await {
        let name = db.name();
        seed(&db);
        // 300 keys in batches of 5 with 300 ms pauses: about 18 s, far longer than it takes to
        // see the first cursor and send the signal.
        let child = command(
            &db.url,
            &["run", "UserStats", "--batch-size", "5", "--pause", "300ms"],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the run");
        let row = wait_for_cursor(&db.url, name);
        assert!(
            row.contains('%'),
            "{name}: status shows the percentage: {row}"
        );
        let kill = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(kill.success(), "{name}: kill -INT");
        let run = Ran::from(child.wait_with_output().expect("wait for the run"))
            .expect(130, "interrupted run");
        assert!(
            run.stdout
                .contains("interrupted: job user_stats stopped at key "),
            "{name}: {}",
            run.stdout
        );
        assert!(
            run.stderr.contains("stopping after the batch in flight"),
            "{name}: {}",
            run.stderr
        );
        let resume = run
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("resume with: "))
            .unwrap_or_else(|| panic!("{name}: no resume command in\n{}", run.stdout))
            .to_string();
        assert!(!resume.contains("--restart"), "{name}: {resume}");
        let partial = db.scalar("SELECT count(*) FROM user_stats").await;
        assert!(
            partial > 0 && partial < 300,
            "{name}: interrupted with {partial} of 300 users"
        );
        let status = cli(&db.url, &["status", "UserStats"]).expect(0, "status after the signal");
        assert!(
            status.stdout.contains("running"),
            "{name}: {}",
            status.stdout
        );

        // The printed command, as a user would paste it (without the pauses' length mattering).
        let resumed = Command::new("sh")
            .arg("-c")
            .arg(format!("{resume} --pause 0ms"))
            .env_remove("DATABASE_URL")
            .env("BACKFILL_DEMO_USERS", USERS)
            .stdin(Stdio::null())
            .output()
            .expect("run the resume command");
        let resumed = Ran::from(resumed).expect(0, "resumed run");
        assert!(
            resumed.stdout.starts_with("done: job user_stats"),
            "{name}: {}",
            resumed.stdout
        );
        assert!(
            resumed.stdout.contains("resumed after key "),
            "{name}: {}",
            resumed.stdout
        );
        let after_resume = user_stats(&db).await;
        assert_eq!(after_resume.0, 300, "{name}");

        // The same table as one uninterrupted run from scratch.
        db.exec("DELETE FROM user_stats").await;
        cli(&db.url, &["run", "UserStats", "--restart"]).expect(0, "run from scratch");
        assert_eq!(
            user_stats(&db).await,
            after_resume,
            "{name}: resumed table differs"
        );
    }
}

#[tokio::test]
async fn verify_exits_0_on_a_clean_table_and_4_on_a_damaged_one() {
    for db in common::engines("cli_verify").await {
        let name = db.name();
        seed(&db);
        cli(&db.url, &["run", "UserStats"]).expect(0, "run");
        let clean = cli(&db.url, &["verify", "UserStats"]).expect(0, "verify clean");
        assert!(
            clean.stdout.contains("ok: the table matches its source"),
            "{name}: {}",
            clean.stdout
        );
        db.exec("UPDATE user_stats SET event_count = event_count + 1 WHERE user_id = 7")
            .await;
        db.exec("DELETE FROM user_stats WHERE user_id = 9").await;
        let damaged = cli(&db.url, &["verify", "UserStats"]).expect(4, "verify damaged");
        assert!(
            damaged.stdout.contains("missing:   1 (e.g. 9)"),
            "{name}: {}",
            damaged.stdout
        );
        assert!(
            damaged.stdout.contains("different: 1 (e.g. 7)"),
            "{name}: {}",
            damaged.stdout
        );
        assert!(
            damaged.stdout.contains("run UserStats --restart"),
            "{name}: {}",
            damaged.stdout
        );
        // The repair it suggests works.
        cli(&db.url, &["run", "UserStats", "--restart"]).expect(0, "repair");
        cli(&db.url, &["verify", "UserStats"]).expect(0, "verify repaired");

        // A key that left the source: kept by a restart, deleted only with --delete-extra.
        let user_ids = db.scalar("SELECT count(*) FROM user_stats").await;
        db.exec("DELETE FROM events WHERE user_id = 11").await;
        let extra = cli(&db.url, &["verify", "UserStats"]).expect(4, "verify extra");
        assert!(
            extra.stdout.contains("extra:     1 (e.g. 11)")
                && extra.stdout.contains("add --delete-extra"),
            "{name}: {}",
            extra.stdout
        );
        cli(&db.url, &["run", "UserStats", "--restart"]).expect(0, "restart keeps it");
        assert_eq!(
            db.scalar("SELECT count(*) FROM user_stats").await,
            user_ids,
            "{name}"
        );
        let deleted = cli(
            &db.url,
            &["run", "UserStats", "--restart", "--delete-extra"],
        )
        .expect(0, "run --delete-extra");
        assert!(
            deleted.stdout.contains("1 extra rows deleted"),
            "{name}: {}",
            deleted.stdout
        );
        assert_eq!(
            db.scalar("SELECT count(*) FROM user_stats WHERE user_id = 11")
                .await,
            0,
            "{name}"
        );
        cli(&db.url, &["verify", "UserStats"]).expect(0, "verify after --delete-extra");
    }
}

#[tokio::test]
async fn json_log_lines_describe_every_batch() {
    for db in common::engines("cli_json").await {
        let name = db.name();
        seed(&db);
        let run = cli(
            &db.url,
            &[
                "--log-format",
                "json",
                "run",
                "OrderFacts",
                "--batch-size",
                "250",
            ],
        )
        .expect(0, "run with json logs");
        let events: Vec<serde_json::Value> = run
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("{name}: not a JSON line ({e}): {l}"))
            })
            .collect();
        let batches: Vec<&serde_json::Value> = events
            .iter()
            .filter(|e| e["message"] == "batch committed" && e["target"] == "backfill::cli")
            .collect();
        // 900 orders, every fifth cancelled: 720 keys, 250 a batch.
        assert_eq!(batches.len(), 3, "{name}: {}", run.stderr);
        let mut rows = 0;
        for (i, b) in batches.iter().enumerate() {
            assert_eq!(b["job"], "order_facts", "{name}: {b}");
            assert_eq!(b["batch"], i as u64 + 1, "{name}: {b}");
            assert!(b["ms"].is_u64(), "{name}: {b}");
            rows += b["rows"]
                .as_u64()
                .unwrap_or_else(|| panic!("{name}: rows in {b}"));
        }
        // The 250th order not cancelled is 312, the 500th 624, the last 899.
        let ranges: Vec<(&str, &str)> = batches
            .iter()
            .map(|b| {
                (
                    b["from"].as_str().unwrap_or("?"),
                    b["to"].as_str().unwrap_or("?"),
                )
            })
            .collect();
        assert_eq!(
            ranges,
            [("start", "312"), ("312", "624"), ("624", "899")],
            "{name}"
        );
        assert_eq!(rows, 720, "{name}: rows of the orders not cancelled");
        let finished = events
            .iter()
            .find(|e| e["message"] == "run finished")
            .unwrap_or_else(|| panic!("{name}: no run finished event in {}", run.stderr));
        assert_eq!(finished["stop"], "done", "{name}");
        assert_eq!(finished["rows"], 720, "{name}");
    }
}

#[test]
fn sql_prints_the_generated_statements_formatted() {
    let run = cli(
        "sqlite:unused.db",
        &["sql", "UserStats", "--engine", "postgres"],
    )
    .expect(0, "sql");
    insta::assert_snapshot!("sql_user_stats_postgres", run.stdout);
    // Without --engine, the URL's engine.
    let mysql = cli("mysql://root@127.0.0.1/x", &["sql", "OrderFacts"]).expect(0, "sql by url");
    assert!(
        mysql.stdout.starts_with("-- OrderFacts on MySQL/MariaDB"),
        "{}",
        mysql.stdout
    );
    assert!(
        mysql.stdout.contains("ON DUPLICATE KEY UPDATE"),
        "{}",
        mysql.stdout
    );
}

#[test]
fn a_wrong_url_fails_quickly_without_the_password() {
    let mut urls = vec![
        "postgres://app:hunter2-secret@127.0.0.1:1/prod".to_string(),
        "mysql://root:hunter2-secret@127.0.0.1:1/prod".to_string(),
    ];
    if let Ok(base) = std::env::var("BACKFILL_TEST_POSTGRES_URL") {
        // A reachable server, a database that does not exist.
        let (scheme, rest) = base.split_once("://").expect("a postgres:// URL");
        let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        let host = rest.split(['/', '?']).next().unwrap_or(rest);
        urls.push(format!(
            "{scheme}://postgres:hunter2-secret@{host}/no_such_database"
        ));
    }
    if let Ok(base) = std::env::var("BACKFILL_TEST_MYSQL_URL") {
        // A reachable server that refuses the password.
        let (scheme, rest) = base.split_once("://").expect("a mysql:// URL");
        let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        let host = rest.split(['/', '?']).next().unwrap_or(rest);
        urls.push(format!("{scheme}://nobody:hunter2-secret@{host}/test"));
    }
    for url in urls {
        // --connect-timeout keeps a refused connection from waiting for the pool's 30 s.
        let mut cmd = command(&url, &["--connect-timeout", "3s", "check", "UserStats"]);
        let ran = Ran::from(cmd.output().expect("run the service")).expect(1, &url);
        let all = format!("{}{}", ran.stdout, ran.stderr);
        assert!(
            !all.contains("hunter2-secret"),
            "{url}: the password leaked:\n{all}"
        );
        assert!(
            all.contains(":***@"),
            "{url}: the URL is shown redacted:\n{all}"
        );
        assert!(all.contains("error: cannot connect to"), "{url}:\n{all}");
    }
}

#[tokio::test]
async fn usage_preflight_and_reset() {
    let db = common::sqlite("cli_usage").await;
    // Preflight on an empty database: the target table is missing.
    let missing = cli(&db.url, &["check", "UserStats"]).expect(3, "check without the table");
    assert!(missing.stderr.contains("user_stats"), "{}", missing.stderr);
    cli(&db.url, &["run", "UserStats"]).expect(3, "run without the table");
    // Usage errors.
    let unknown = cli(&db.url, &["run", "UserStat"]).expect(2, "unknown backfill");
    assert!(
        unknown.stderr.contains("no backfill named `UserStat`"),
        "{}",
        unknown.stderr
    );
    assert!(
        unknown
            .stderr
            .contains("UserStats, OrderFacts, DefaultSettings, UserOrderCount"),
        "{}",
        unknown.stderr
    );
    cli(&db.url, &["run", "UserStats", "--pause", "soon"]).expect(2, "bad duration");
    let mut no_url = command("unused", &["check", "UserStats"]);
    let no_url = Ran::from(no_url.args(["--database-url", ""]).output().expect("run"))
        .expect(2, "empty url");
    assert!(
        no_url.stderr.contains("no known scheme"),
        "{}",
        no_url.stderr
    );
    let help = Ran::from(
        Command::new(service())
            .arg("--help")
            .output()
            .expect("help"),
    )
    .expect(0, "help");
    assert!(help.stdout.contains("130  interrupted"), "{}", help.stdout);

    // reset asks first; a "no" keeps the progress, --yes does not ask.
    seed(&db);
    cli(
        &db.url,
        &[
            "run",
            "UserStats",
            "--max-batches",
            "1",
            "--batch-size",
            "10",
        ],
    )
    .expect(0, "one batch");
    let mut ask = command(&db.url, &["reset", "UserStats"]);
    let mut child = ask
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start reset");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"n\n")
        .expect("answer no");
    let declined = Ran::from(child.wait_with_output().expect("reset")).expect(1, "declined reset");
    assert!(
        declined.stderr.contains("not confirmed"),
        "{}",
        declined.stderr
    );
    assert!(cli(&db.url, &["status", "UserStats"])
        .stdout
        .contains("running"));
    let reset = cli(&db.url, &["reset", "UserStats", "--yes"]).expect(0, "reset --yes");
    assert!(
        reset.stdout.contains("reset job user_stats"),
        "{}",
        reset.stdout
    );
    assert!(cli(&db.url, &["status", "UserStats"])
        .stdout
        .contains("not started"));
}

#[tokio::test]
async fn a_second_sigint_aborts_at_once_and_the_job_stays_consistent() {
    for db in common::engines("cli_abort").await {
        let name = db.name();
        seed(&db);
        let child = command(
            &db.url,
            &["run", "UserStats", "--batch-size", "5", "--pause", "300ms"],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the run");
        wait_for_cursor(&db.url, name);
        // Two signals back to back: whichever the process sees first (a graceful stop or the
        // abort), it exits 130 and what it committed is consistent.
        let kill = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(kill.success(), "{name}: first kill -INT");
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        Ran::from(child.wait_with_output().expect("wait for the run")).expect(130, "aborted run");
        cli(&db.url, &["run", "UserStats"]).expect(0, "resume after the abort");
        cli(&db.url, &["verify", "UserStats"]).expect(0, "verify after the abort");
        assert_eq!(user_stats(&db).await.0, 300, "{name}");
    }
}

/// `--throttle-query`: while the query is true the run starts no batch and says why (one log
/// line), and once it turns false the run finishes, identical to an unthrottled run.
#[tokio::test]
async fn a_throttle_query_holds_the_run_until_it_turns_false() {
    for db in common::engines("cli_throttle_query").await {
        let name = db.name();
        seed(&db);
        db.exec("CREATE TABLE maintenance (active INT NOT NULL)")
            .await;
        db.exec("INSERT INTO maintenance VALUES (1)").await;
        let query = "SELECT count(*) > 0 FROM maintenance WHERE active = 1";
        let mut child = command(
            &db.url,
            &[
                "run",
                "UserStats",
                "--batch-size",
                "50",
                "--throttle-query",
                query,
            ],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the run");
        let stderr = child.stderr.take().expect("the run's stderr");
        let (line_tx, line_rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            use std::io::BufRead as _;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let _ = line_tx.send(line);
            }
        });
        let mut lines = Vec::new();
        let waiting = loop {
            match line_rx.recv_timeout(Duration::from_secs(30)) {
                Ok(line) if line.contains("throttled: ") => break line,
                Ok(line) => lines.push(line),
                Err(_) => {
                    let _ = child.kill();
                    panic!(
                        "{name}: no throttled line; stderr so far:\n{}",
                        lines.join("\n")
                    );
                }
            }
        };
        assert!(
            waiting.contains(&format!("throttled: throttle query `{query}` is true")),
            "{name}: {waiting}"
        );
        // Held: a few more probes, and still nothing written.
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        assert_eq!(
            db.scalar("SELECT count(*) FROM user_stats").await,
            0,
            "{name}"
        );
        db.exec("UPDATE maintenance SET active = 0").await;
        let status = child.wait().expect("wait for the run");
        reader.join().unwrap();
        let rest: Vec<String> = line_rx.try_iter().collect();
        assert_eq!(status.code(), Some(0), "{name}: {}", rest.join("\n"));
        assert!(
            rest.iter().any(|l| l.contains("resumed after throttling")),
            "{name}: {}",
            rest.join("\n")
        );
        let throttled = user_stats(&db).await;
        assert_eq!(throttled.0, 300, "{name}");
        db.exec("DELETE FROM user_stats").await;
        cli(&db.url, &["run", "UserStats", "--restart"]).expect(0, "run from scratch");
        assert_eq!(user_stats(&db).await, throttled, "{name}");
    }
}

/// `run --workers`, `pause`, `resume`, `rate` and `workers`, as an operator types them: the
/// job is cut into shards, `status` shows each and the control set from outside, and the run
/// resumed with the same command lands on the single worker's table. SQLite refuses
/// `--workers 2` and a worker limit.
#[tokio::test]
async fn workers_pause_resume_and_rate_from_the_command_line() {
    for db in common::engines("cli_workers").await {
        let name = db.name();
        seed(&db);
        if db.engine == backfill::Engine::Sqlite {
            let refused = cli(&db.url, &["run", "UserStats", "--workers", "2"])
                .expect(2, &format!("{name}: --workers 2 on SQLite"));
            assert!(
                refused.stderr.contains("SQLite has one writer")
                    && refused.stderr.contains("--workers 1"),
                "{name}: {}",
                refused.stderr
            );
            let refused = cli(&db.url, &["workers", "UserStats", "2"])
                .expect(2, &format!("{name}: a worker limit on SQLite"));
            assert!(
                refused.stderr.contains("SQLite has one writer")
                    && refused.stderr.contains("user_stats"),
                "{name}: {}",
                refused.stderr
            );
            continue;
        }
        let never = cli(&db.url, &["pause", "UserStats"])
            .expect(1, &format!("{name}: pause of a job that never ran"));
        assert!(
            never.stderr.contains("has no progress"),
            "{name}: {}",
            never.stderr
        );

        cli(
            &db.url,
            &[
                "run",
                "UserStats",
                "--workers",
                "2",
                "--batch-size",
                "10",
                "--max-batches",
                "4",
            ],
        )
        .expect(0, &format!("{name}: the first batches with 2 workers"));
        let paused = cli(&db.url, &["pause", "UserStats"]).expect(0, &format!("{name}: pause"));
        assert!(
            paused.stdout.contains("paused job user_stats"),
            "{name}: {}",
            paused.stdout
        );
        let rate = cli(&db.url, &["rate", "UserStats", "5000"]).expect(0, &format!("{name}: rate"));
        assert!(
            rate.stdout.contains("5,000 rows per second"),
            "{name}: {}",
            rate.stdout
        );
        let limit =
            cli(&db.url, &["workers", "UserStats", "1"]).expect(0, &format!("{name}: workers"));
        assert!(
            limit
                .stdout
                .contains("job user_stats now runs at most 1 worker at once"),
            "{name}: {}",
            limit.stdout
        );
        let zero = cli(&db.url, &["workers", "UserStats", "0"])
            .expect(2, &format!("{name}: a limit of 0 workers"));
        assert!(zero.stderr.contains("pause"), "{name}: {}", zero.stderr);
        let status = cli(&db.url, &["status", "UserStats"]).expect(0, &format!("{name}: status"));
        for part in [
            "paused from outside",
            "rate limit set from outside: 5,000 rows/s",
            "worker limit: at most 1 workers run batches at once",
            "shard 0: running",
            "shard 1: running",
        ] {
            assert!(
                status.stdout.contains(part),
                "{name}: {part}:\n{}",
                status.stdout
            );
        }
        cli(&db.url, &["rate", "UserStats", "off"]).expect(0, &format!("{name}: rate off"));
        let all = cli(&db.url, &["workers", "UserStats", "all"])
            .expect(0, &format!("{name}: workers all"));
        assert!(
            all.stdout
                .contains("lifted the worker limit of job user_stats"),
            "{name}: {}",
            all.stdout
        );
        cli(&db.url, &["resume", "UserStats"]).expect(0, &format!("{name}: resume"));
        cli(
            &db.url,
            &["run", "UserStats", "--workers", "2", "--batch-size", "10"],
        )
        .expect(0, &format!("{name}: the rest with 2 workers"));
        let status = cli(&db.url, &["status", "UserStats"]).expect(0, &format!("{name}: status"));
        assert!(
            !status.stdout.contains("paused"),
            "{name}: {}",
            status.stdout
        );
        assert!(
            !status.stdout.contains("rate limit") && !status.stdout.contains("worker limit"),
            "{name}: {}",
            status.stdout
        );
        let sharded = user_stats(&db).await;
        assert_eq!(sharded.0, 300, "{name}");
        db.exec("DELETE FROM user_stats").await;
        cli(&db.url, &["run", "UserStats", "--restart"]).expect(0, &format!("{name}: one worker"));
        assert_eq!(user_stats(&db).await, sharded, "{name}");
    }
}
