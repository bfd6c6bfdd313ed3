//! Where the two cores went during a run: CPU time of the bench process, of the database
//! server's processes (`postgres`, `mariadbd`/`mysqld`, by name from `/proc/*/stat`), and how
//! busy the whole machine was (`/proc/stat`). On a machine where the server shares the cores
//! with the client, this is what bounds what more workers can gain. Linux only; elsewhere every
//! reading is `None`.

use std::time::Duration;

use backfill::Engine;

/// Clock ticks per second of `/proc` CPU times (`USER_HZ`: 100 on every Linux x86_64 build).
const TICKS_PER_SEC: f64 = 100.0;

/// CPU counters at one moment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CpuReading {
    /// `utime + stime` of this process, in ticks.
    client: u64,
    /// `utime + stime` summed over the server's processes alive now, in ticks.
    server: u64,
    /// Busy and total ticks of the whole machine (every core).
    machine_busy: u64,
    machine_total: u64,
}

/// CPU use over a timed run: seconds of CPU (core-seconds) and the machine's busy share.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CpuUse {
    /// Core-seconds the bench process used (the backfill's runtime and sqlx; the load
    /// generator when it runs).
    pub(crate) client_secs: f64,
    /// Core-seconds the server's processes used.
    pub(crate) server_secs: f64,
    /// Share of all cores' time that was busy (1.0 = every core at 100%).
    pub(crate) machine_busy: f64,
}

/// The server's process names for `engine`.
fn server_names(engine: Engine) -> &'static [&'static str] {
    match engine {
        Engine::Postgres => &["postgres"],
        Engine::MySql => &["mariadbd", "mysqld"],
        Engine::Sqlite => &[],
    }
}

/// `(comm, utime + stime)` of one `/proc/PID/stat`.
fn process_ticks(stat: &str) -> Option<(&str, u64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = &stat[open + 1..close];
    // After the comm: state is field 3, utime field 14, stime field 15.
    let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((comm, utime + stime))
}

/// Reads the counters now; `None` off Linux.
pub(crate) fn read(engine: Engine) -> Option<CpuReading> {
    let own = std::fs::read_to_string("/proc/self/stat").ok()?;
    let client = process_ticks(&own)?.1;
    let names = server_names(engine);
    let mut server = 0;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some((comm, ticks)) = process_ticks(&stat) {
            if names.contains(&comm) {
                server += ticks;
            }
        }
    }
    let all = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu: Vec<u64> = all
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = cpu.iter().take(8).sum();
    // idle and iowait are the 4th and 5th counters.
    let idle = cpu.get(3)? + cpu.get(4).copied().unwrap_or(0);
    Some(CpuReading {
        client,
        server,
        machine_busy: total - idle,
        machine_total: total,
    })
}

impl CpuReading {
    /// What was used between `self` and `later`. A server process that exited in between
    /// (a PostgreSQL backend whose connection closed) loses its time, so the server's share is
    /// a lower bound; the pools' connections stay open during a run.
    pub(crate) fn until(self, later: CpuReading) -> CpuUse {
        let secs = |a: u64, b: u64| b.saturating_sub(a) as f64 / TICKS_PER_SEC;
        CpuUse {
            client_secs: secs(self.client, later.client),
            server_secs: secs(self.server, later.server),
            machine_busy: later.machine_busy.saturating_sub(self.machine_busy) as f64
                / later
                    .machine_total
                    .saturating_sub(self.machine_total)
                    .max(1) as f64,
        }
    }
}

impl CpuUse {
    /// Cores' worth of CPU per second of wall time: `(server, client)`.
    pub(crate) fn cores(&self, wall: Duration) -> (f64, f64) {
        let wall = wall.as_secs_f64().max(1e-9);
        (self.server_secs / wall, self.client_secs / wall)
    }
}

#[cfg(test)]
mod tests {
    use super::process_ticks;

    #[test]
    fn reads_utime_and_stime_past_a_comm_with_spaces() {
        let stat = "42 (postgres: bench) S 1 42 42 0 -1 4194560 100 0 0 0 150 25 0 0 20 0";
        assert_eq!(process_ticks(stat), Some(("postgres: bench", 175)));
    }
}
