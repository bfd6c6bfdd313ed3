//! Worker processes: a test re-runs its own binary with a URL in the environment, and that
//! child runs the backfill and prints one report line the parent parses. Faults, in-place and
//! shard tests SIGKILL such children at random moments.

use backfill::{BackfillPool, Definition, RunOptions};

/// The line a worker prints, and the parent looks for.
const REPORT: &str = "WORKER-REPORT batches=";

/// Runs `def` against `url` (the engine chosen by its scheme) and prints the report line.
pub async fn run(url: &str, def: &'static Definition, options: RunOptions) {
    let report = match url.split(':').next() {
        Some("postgres") => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            pool.run_backfill(def, options).await
        }
        Some("mysql") => {
            let pool = sqlx::MySqlPool::connect(url).await.unwrap();
            pool.run_backfill(def, options).await
        }
        _ => {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            pool.run_backfill(def, options).await
        }
    };
    let report = report.unwrap_or_else(|e| panic!("worker failed: {e}"));
    println!("{REPORT}{} finished={}", report.batches, report.finished());
}

/// The batches a finished worker reported; panics, with its output, when it printed none.
pub fn batches(output: &std::process::Output) -> u64 {
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .find_map(|l| l.split(REPORT).nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "the worker printed no report:\n{stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })
}

/// Whether a worker's output holds its report (it ran to the end).
pub fn reported(output: &std::process::Output) -> bool {
    String::from_utf8_lossy(&output.stdout).contains(REPORT)
}

/// Waits up to `after` for `child` to end by itself, then SIGKILLs it: `true` if it was
/// killed (and reaped), `false` if it had ended first (its output still to be read).
pub fn kill_after(child: &mut std::process::Child, after: std::time::Duration) -> bool {
    let started = std::time::Instant::now();
    while started.elapsed() < after {
        if child.try_wait().expect("poll the worker").is_some() {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    if child.try_wait().expect("poll the worker").is_some() {
        return false;
    }
    child.kill().expect("SIGKILL the worker");
    child.wait().expect("reap the worker");
    true
}

/// Waits for a worker that was let run to its end, and checks it succeeded and reported.
pub fn finished(child: std::process::Child, engine: &str) {
    let output = child.wait_with_output().expect("the worker's output");
    assert!(
        output.status.success(),
        "{engine}: worker failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    batches(&output);
}
