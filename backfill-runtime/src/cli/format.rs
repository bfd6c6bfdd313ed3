//! Pure formatting for people: counts, durations, rates and ETAs, the status table, and the
//! generated SQL broken into clauses. No I/O here, so all of it is unit-tested.

use std::fmt::Write as _;
use std::time::Duration;

use crate::definition::{Definition, Engine, Param, Statements, Stmt};
use crate::options::{JobStatus, ShardStatus};
use crate::value::{Key, KeyValue};

/// `1234567` -> `1,234,567`.
pub(crate) fn count(n: u64) -> String {
    let digits = n.to_string();
    let groups: Vec<&str> = digits
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|g| std::str::from_utf8(g).unwrap_or_default())
        .collect();
    groups.join(",")
}

/// A short human duration: `850ms`, `4.2s`, `3m 12s`, `2h 05m`, `3d 4h`.
pub(crate) fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1_000 {
        return format!("{ms}ms");
    }
    let secs = d.as_secs();
    if secs < 60 {
        return format!("{:.1}s", d.as_secs_f64());
    }
    if secs < 3_600 {
        return format!("{}m {:02}s", secs / 60, secs % 60);
    }
    if secs < 86_400 {
        return format!("{}h {:02}m", secs / 3_600, (secs % 3_600) / 60);
    }
    format!("{}d {}h", secs / 86_400, (secs % 86_400) / 3_600)
}

/// Rows per second over `elapsed`: `1,234 rows/s`; `-` when nothing can be said yet.
pub(crate) fn rate(rows: u64, elapsed: Duration) -> String {
    match per_second(rows, elapsed) {
        Some(r) => format!("{} rows/s", count(r.round() as u64)),
        None => "-".to_string(),
    }
}

fn per_second(n: u64, elapsed: Duration) -> Option<f64> {
    let secs = elapsed.as_secs_f64();
    (secs >= 0.001).then(|| n as f64 / secs)
}

/// Time left at the current pace: `elapsed` took the job from `start_fraction` to `fraction`.
/// `None` when the fraction is unknown or has not moved.
pub(crate) fn eta(start_fraction: f64, fraction: f64, elapsed: Duration) -> Option<Duration> {
    if !(0.0..=1.0).contains(&fraction) || fraction >= 1.0 {
        return (fraction >= 1.0).then_some(Duration::ZERO);
    }
    let moved = fraction - start_fraction;
    if moved <= 1e-9 || elapsed.is_zero() {
        return None;
    }
    let secs = elapsed.as_secs_f64() * (1.0 - fraction) / moved;
    (secs.is_finite() && secs < 1e9).then(|| Duration::from_secs_f64(secs))
}

/// `41.2%`.
pub(crate) fn percent(fraction: f64) -> String {
    format!("{:.1}%", (fraction * 100.0).clamp(0.0, 100.0))
}

/// How far an integer cursor is through the key span `min..=max` (0.0..=1.0).
pub(crate) fn fraction_of_span(min: i64, max: i64, cursor: i64) -> f64 {
    if max <= min {
        return if cursor >= max { 1.0 } else { 0.0 };
    }
    let done = (cursor as f64 - min as f64 + 1.0) / (max as f64 - min as f64 + 1.0);
    done.clamp(0.0, 1.0)
}

/// The fraction of a job done, from its cursor and the source's first-key span; `None` for text
/// keys or an unknown span.
pub(crate) fn status_fraction(
    status: &JobStatus,
    span: Option<&(KeyValue, KeyValue)>,
) -> Option<f64> {
    if status.state == "done" {
        return Some(1.0);
    }
    let Some(cursor) = &status.cursor else {
        return Some(0.0);
    };
    match (span?, cursor.0.first()?) {
        ((KeyValue::Int(min), KeyValue::Int(max)), KeyValue::Int(at)) => {
            Some(fraction_of_span(*min, *max, *at))
        }
        _ => None,
    }
}

/// One row of the `status` table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StatusRow {
    pub(crate) name: String,
    pub(crate) job: String,
    pub(crate) state: String,
    pub(crate) cursor: String,
    pub(crate) done: String,
    pub(crate) rows: String,
    pub(crate) rate: String,
    pub(crate) eta: String,
    pub(crate) updated: String,
}

impl StatusRow {
    /// A job that has no progress row.
    pub(crate) fn not_started(name: &str, job: &str) -> StatusRow {
        StatusRow {
            name: name.to_string(),
            job: job.to_string(),
            state: "not started".to_string(),
            cursor: "-".to_string(),
            done: "0.0%".to_string(),
            rows: "0".to_string(),
            rate: "-".to_string(),
            eta: "-".to_string(),
            updated: "-".to_string(),
        }
    }

    /// A job's row from the progress table; `fraction` from [`status_fraction`].
    pub(crate) fn from_status(
        name: &str,
        status: &JobStatus,
        fraction: Option<f64>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> StatusRow {
        let end = status.finished_at.unwrap_or(status.updated_at);
        let elapsed = (end - status.started_at).to_std().unwrap_or_default();
        let eta_text = match (status.state.as_str(), fraction) {
            ("done", _) => "-".to_string(),
            (_, Some(f)) => eta(0.0, f, elapsed).map_or("-".to_string(), duration),
            (_, None) => "unknown".to_string(),
        };
        let ago = (now - status.updated_at).to_std().unwrap_or_default();
        StatusRow {
            name: name.to_string(),
            job: status.job.clone(),
            state: status.state.clone(),
            cursor: status
                .cursor
                .as_ref()
                .map_or("-".to_string(), Key::to_string),
            done: fraction.map_or("unknown".to_string(), percent),
            rows: count(status.rows_written),
            rate: rate(status.rows_written, elapsed),
            eta: eta_text,
            updated: format!(
                "{} ({})",
                status.updated_at.format("%Y-%m-%d %H:%M:%S UTC"),
                if ago < Duration::from_secs(1) {
                    "just now".to_string()
                } else {
                    format!("{} ago", duration(Duration::from_secs(ago.as_secs())))
                }
            ),
        }
    }
}

/// Rows of text as aligned columns under a header, two spaces apart.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let pad = widths.get(i).copied().unwrap_or(0);
            let _ = write!(line, "{cell:<pad$}");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The `status` table.
pub(crate) fn status_table(rows: &[StatusRow]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                r.job.clone(),
                r.state.clone(),
                r.cursor.clone(),
                r.done.clone(),
                r.rows.clone(),
                r.rate.clone(),
                r.eta.clone(),
                r.updated.clone(),
            ]
        })
        .collect();
    table(
        &[
            "BACKFILL",
            "JOB",
            "STATE",
            "CURSOR",
            "DONE",
            "ROWS WRITTEN",
            "RATE",
            "ETA",
            "LAST UPDATE",
        ],
        &cells,
    )
}

/// Clause keywords a statement is broken before (longest first, so `ORDER BY` wins over `OR`).
const CLAUSES: [&str; 14] = [
    "ON DUPLICATE KEY UPDATE",
    "DO UPDATE SET",
    "ON CONFLICT",
    "INSERT INTO",
    "DO NOTHING",
    "UNION ALL",
    "GROUP BY",
    "ORDER BY",
    "HAVING",
    "SELECT",
    "WHERE",
    "LIMIT",
    "UNION",
    "FROM",
];

/// Breaks a statement into one clause per line, indenting subqueries. Only whitespace changes:
/// quoted identifiers and strings are kept as they are, and clause words inside function calls
/// (`EXTRACT(YEAR FROM x)`, `OVER (ORDER BY k)`) or after `DISTINCT` stay on their line.
pub(crate) fn sql(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 64);
    // One entry per open parenthesis: whether it opened a subquery.
    let mut parens: Vec<bool> = Vec::new();
    let mut last_word = String::new();
    let mut i = 0;
    let depth = |parens: &Vec<bool>| parens.iter().filter(|q| **q).count();
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' | '"' | '`' => {
                let start = i;
                i += 1;
                while i < chars.len() {
                    if chars[i] == c {
                        if chars.get(i + 1) == Some(&c) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i = (i + 1).min(chars.len());
                out.extend(&chars[start..i]);
                last_word.clear();
                continue;
            }
            '(' => {
                let next = next_word(&chars, i + 1);
                let subquery =
                    next.eq_ignore_ascii_case("SELECT") || next.eq_ignore_ascii_case("WITH");
                parens.push(subquery);
                out.push('(');
                last_word.clear();
                i += 1;
                if subquery {
                    while i < chars.len() && chars[i].is_whitespace() {
                        i += 1;
                    }
                    newline(&mut out, depth(&parens));
                }
                continue;
            }
            ')' => {
                if parens.pop() == Some(true) {
                    trim_trailing_space(&mut out);
                    newline(&mut out, depth(&parens));
                }
                out.push(')');
                last_word.clear();
                i += 1;
                continue;
            }
            _ => {}
        }
        let at_word_start = (c.is_ascii_alphabetic())
            && (i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_'));
        let breakable = parens.last().copied().unwrap_or(true);
        if at_word_start && breakable && !last_word.eq_ignore_ascii_case("DISTINCT") {
            if let Some(clause) = CLAUSES.iter().find(|k| matches_phrase(&chars, i, k)) {
                let len = clause.chars().count();
                let line_empty = out.trim_end().ends_with('(') || out.trim().is_empty();
                if !line_empty {
                    trim_trailing_space(&mut out);
                    newline(&mut out, depth(&parens));
                }
                out.extend(&chars[i..i + len]);
                last_word = clause.rsplit(' ').next().unwrap_or(clause).to_string();
                i += len;
                continue;
            }
        }
        if c.is_alphanumeric() || c == '_' {
            if at_word_start {
                last_word.clear();
            }
            last_word.push(c);
        } else if !c.is_whitespace() {
            last_word.clear();
        }
        // Collapse runs of whitespace (the generated SQL is one line already).
        if c.is_whitespace() {
            if !out.ends_with(' ') && !out.ends_with('\n') {
                out.push(' ');
            }
        } else {
            out.push(c);
        }
        i += 1;
    }
    trim_trailing_space(&mut out);
    out
}

fn next_word(chars: &[char], mut i: usize) -> String {
    while i < chars.len() && chars[i].is_whitespace() {
        i += 1;
    }
    chars[i..]
        .iter()
        .take_while(|c| c.is_alphanumeric() || **c == '_')
        .collect()
}

/// Whether the words of `phrase` start at `i` (any case, any whitespace between words), ending
/// at a word boundary.
fn matches_phrase(chars: &[char], mut i: usize, phrase: &str) -> bool {
    for (n, word) in phrase.split(' ').enumerate() {
        if n > 0 {
            if i >= chars.len() || chars[i] != ' ' {
                return false;
            }
            i += 1;
        }
        for expected in word.chars() {
            match chars.get(i) {
                Some(c) if c.eq_ignore_ascii_case(&expected) => i += 1,
                _ => return false,
            }
        }
    }
    !matches!(chars.get(i), Some(c) if c.is_alphanumeric() || *c == '_')
}

fn newline(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str("  ");
    }
}

fn trim_trailing_space(out: &mut String) {
    while out.ends_with(' ') {
        out.pop();
    }
}

/// What a parameter binds, for people: `cursor user_id`, `hi user_id`, `batch size`.
pub(crate) fn param(definition: &Definition, param: &Param) -> String {
    let column = |i: usize| definition.key.get(i).map_or("?", |k| k.column);
    match param {
        Param::Cursor(i) => format!("cursor {} (exclusive)", column(*i)),
        Param::Hi(i) => format!("hi {} (inclusive)", column(*i)),
        Param::Limit => "batch size".to_string(),
        Param::Offset => "batch size - 1".to_string(),
    }
}

/// One statement with its binds as SQL comments.
fn statement(definition: &Definition, name: &str, stmt: &Stmt, numbered: bool) -> String {
    let mut out = format!("-- {name}\n");
    for (n, p) in stmt.params.iter().enumerate() {
        let placeholder = if numbered {
            format!("${}", n + 1)
        } else {
            format!("?{}", n + 1)
        };
        let _ = writeln!(out, "--   {placeholder} = {}", param(definition, p));
    }
    out.push_str(&sql(stmt.sql));
    out.push_str(";\n");
    out
}

/// Every statement of `definition` on one engine, formatted, with a header naming the target.
pub(crate) fn statements(definition: &Definition, statements: &Statements) -> String {
    let numbered = statements.engine == crate::definition::Engine::Postgres;
    let mut out = format!(
        "-- {} on {}: table {}, key {}, job {}, fingerprint {}\n",
        definition.name,
        statements.engine,
        definition.table,
        definition.key_columns(),
        definition.job,
        statements.fingerprint
    );
    if !numbered {
        out.push_str("-- each ? is bound in order (?n below is the n-th ?)\n");
    }
    for (name, stmt) in statements.named() {
        out.push('\n');
        out.push_str(&statement(definition, name, stmt, numbered));
    }
    out
}

/// How the ranges read the source, as `plan` and `check` print it: under a heading, each line
/// indented, the range read's EXPLAIN last; or why it could not be analysed.
pub(crate) fn source_access(
    access: &Result<crate::access::SourceAccess, crate::error::Error>,
) -> String {
    let mut out = String::from("  access path of the source:\n");
    let access = match access {
        Ok(access) => access,
        Err(e) => {
            out.push_str(&format!("    not analysed: {e}\n"));
            return out;
        }
    };
    for line in access.to_string().lines() {
        out.push_str("    ");
        out.push_str(line);
        out.push('\n');
    }
    if let Some(path) = access.analysed() {
        if !path.read_plan.explain.is_empty() {
            out.push_str("    explain of one range's read:\n");
            for line in path.read_plan.explain.lines() {
                out.push_str("      ");
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// Where a batch starts, for logs: the cursor, or `start` for the first range.
pub(crate) fn lower_bound(key: Option<&Key>) -> String {
    key.map_or("start".to_string(), Key::to_string)
}

/// The lines `status` adds under a job for what was set from outside (pause, rate, worker
/// limit) and for
/// each shard of a job run by several workers.
pub(crate) fn control_lines(status: &JobStatus, name: &str) -> Vec<String> {
    let mut lines = Vec::new();
    if status.paused {
        lines.push(format!(
            "  paused from outside: every worker waits (`resume {name}` to go on)"
        ));
    }
    if let Some(rows) = status.max_rows_per_sec {
        lines.push(format!(
            "  rate limit set from outside: {} rows/s over all workers",
            count(rows)
        ));
    }
    if let Some(k) = status.max_workers {
        lines.push(format!(
            "  worker limit: at most {k} workers run batches at once, over every process (`workers {name} N|all` to change)"
        ));
    }
    if let Some(scan) = &status.scan {
        let at = scan
            .cursor
            .as_ref()
            .map_or_else(|| "none yet".to_string(), |k| k.to_string());
        let table = if scan.staging_exists {
            scan.staging_table.clone()
        } else {
            format!("{} (dropped)", scan.staging_table)
        };
        lines.push(format!(
            "  scan: partials {} ({}), last chunk at {at}, {} chunks, {} source rows, {} partial rows in {table}; then the merge, job {}",
            scan.state,
            scan.job,
            count(scan.chunks),
            count(scan.source_rows),
            count(scan.partials_written),
            status.job
        ));
        lines.extend(scan.shards.iter().map(|shard| {
            shard_line(
                "partials shard",
                shard,
                ["chunks", "source rows", "partial rows"],
            )
        }));
    }
    lines.extend(
        status
            .shards
            .iter()
            .map(|shard| shard_line("shard", shard, ["batches", "keys", "rows"])),
    );
    lines
}

/// One shard's line under `status`: its state, range, and its batches, keys and rows, named
/// by `units`.
fn shard_line(what: &str, shard: &ShardStatus, units: [&str; 3]) -> String {
    let at = shard
        .cursor
        .as_ref()
        .map_or_else(|| "first key".to_string(), |k| k.to_string());
    let end = shard
        .end
        .as_ref()
        .map_or_else(|| "last key".to_string(), |k| k.to_string());
    format!(
        "  {what} {}: {}, after {at}, up to {end}, {} {}, {} {}, {} {}",
        shard.shard,
        shard.state,
        count(shard.batches),
        units[0],
        count(shard.keys),
        units[1],
        count(shard.rows_written),
        units[2]
    )
}

/// The schema-checked build's part of `check`: which migrations the build checked against, the
/// statements it left out, and where the live table differs from them; empty without migrations.
pub(crate) fn checked_schema(
    def: &Definition,
    engine: Engine,
    drift: &Result<Vec<crate::drift::SchemaDrift>, crate::Error>,
) -> String {
    let Some(checked) = def.checked_schema(engine) else {
        return String::new();
    };
    let mut out = format!(
        "  schema checked at build against the migrations in {}\n",
        checked.migrations
    );
    for skipped in checked.skipped {
        out.push_str(&format!("    skipped by `-- backfill: skip`: {skipped}\n"));
    }
    match drift {
        Ok(drift) if drift.is_empty() => {
            out.push_str("    the live table matches them\n");
        }
        Ok(drift) => {
            out.push_str(
                "    the live table differs from them (preflight checked the live one):\n",
            );
            for d in drift {
                out.push_str(&format!("      {d}\n"));
            }
        }
        Err(e) => out.push_str(&format!("    not compared with the live table: {e}\n")),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(1_234_567), "1,234,567");
    }

    #[test]
    fn durations_are_short() {
        assert_eq!(duration(Duration::from_millis(850)), "850ms");
        assert_eq!(duration(Duration::from_millis(4_200)), "4.2s");
        assert_eq!(duration(Duration::from_secs(192)), "3m 12s");
        assert_eq!(duration(Duration::from_secs(7_500)), "2h 05m");
        assert_eq!(
            duration(Duration::from_secs(3 * 86_400 + 4 * 3_600)),
            "3d 4h"
        );
    }

    #[test]
    fn rates_need_some_elapsed_time() {
        assert_eq!(rate(5_000, Duration::from_secs(2)), "2,500 rows/s");
        assert_eq!(rate(5_000, Duration::ZERO), "-");
    }

    #[test]
    fn eta_extrapolates_the_pace_of_this_run() {
        // From 20% to 60% in 40 s: 40% left takes 40 s more.
        let left = eta(0.2, 0.6, Duration::from_secs(40)).unwrap();
        assert_eq!(left.as_secs(), 40);
        assert_eq!(
            eta(0.0, 0.25, Duration::from_secs(10)).unwrap().as_secs(),
            30
        );
        assert_eq!(eta(0.3, 0.3, Duration::from_secs(10)), None);
        assert_eq!(eta(0.0, 1.0, Duration::from_secs(10)), Some(Duration::ZERO));
        assert_eq!(eta(0.0, 0.5, Duration::ZERO), None);
    }

    #[test]
    fn fraction_of_an_integer_span() {
        assert_eq!(fraction_of_span(1, 100, 50), 0.5);
        assert_eq!(fraction_of_span(1, 100, 100), 1.0);
        assert_eq!(fraction_of_span(1, 100, 0), 0.0);
        assert_eq!(fraction_of_span(1, 100, 500), 1.0);
        assert_eq!(fraction_of_span(7, 7, 7), 1.0);
        assert_eq!(percent(0.4123), "41.2%");
    }

    fn job(state: &str, cursor: Option<i64>) -> JobStatus {
        let started = chrono::DateTime::parse_from_rfc3339("2024-05-01T10:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        JobStatus {
            job: "user_stats".into(),
            fingerprint: "abc".into(),
            state: state.into(),
            cursor: cursor.map(|c| Key(vec![KeyValue::Int(c)])),
            rows_written: 25_000,
            batches: 25,
            keys: 25_000,
            started_at: started,
            updated_at: started + chrono::Duration::seconds(50),
            finished_at: None,
            paused: false,
            max_rows_per_sec: None,
            max_workers: None,
            shards: Vec::new(),
            scan: None,
        }
    }

    #[test]
    fn status_shows_the_scan_and_its_staging_table() {
        let mut status = job("running", None);
        status.scan = Some(crate::options::ScanStatus {
            job: "user_stats/partials".into(),
            state: "done".into(),
            cursor: Some(Key(vec![KeyValue::Int(2_000_000)])),
            chunks: 4,
            source_rows: 2_000_000,
            partials_written: 800_000,
            staging_table: "backfill_stage_user_stats".into(),
            staging_exists: true,
            shards: Vec::new(),
        });
        let lines = control_lines(&status, "UserStats");
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].contains("partials done (user_stats/partials), last chunk at 2000000"),
            "{lines:?}"
        );
        assert!(
            lines[0].contains("800,000 partial rows in backfill_stage_user_stats;"),
            "{lines:?}"
        );
        // A partials phase of several workers shows each of its shards, in its own units.
        let shard = |i: i64| ShardStatus {
            shard: i,
            state: "done".into(),
            cursor: Some(Key(vec![KeyValue::Int(1_000_000 * (i + 1))])),
            end: (i == 0).then(|| Key(vec![KeyValue::Int(1_000_000)])),
            rows_written: 400_000,
            batches: 2,
            keys: 1_000_000,
            started_at: status.started_at,
            updated_at: status.updated_at,
            finished_at: None,
        };
        if let Some(scan) = status.scan.as_mut() {
            scan.shards = vec![shard(0), shard(1)];
        }
        assert_eq!(
            control_lines(&status, "UserStats")[1..],
            [
                "  partials shard 0: done, after 1000000, up to 1000000, 2 chunks, 1,000,000 source rows, 400,000 partial rows",
                "  partials shard 1: done, after 2000000, up to last key, 2 chunks, 1,000,000 source rows, 400,000 partial rows",
            ]
        );
    }

    #[test]
    fn status_shows_the_control_and_every_shard() {
        let mut status = job("running", Some(25_000));
        assert!(control_lines(&status, "UserStats").is_empty());
        status.paused = true;
        status.max_rows_per_sec = Some(5_000);
        status.max_workers = Some(2);
        status.shards = (0..2)
            .map(|i| crate::options::ShardStatus {
                shard: i,
                state: "running".into(),
                cursor: (i == 1).then(|| Key(vec![KeyValue::Int(500)])),
                end: (i == 0).then(|| Key(vec![KeyValue::Int(500)])),
                rows_written: 10,
                batches: 2,
                keys: 20,
                started_at: status.started_at,
                updated_at: status.updated_at,
                finished_at: None,
            })
            .collect();
        assert_eq!(
            control_lines(&status, "UserStats"),
            vec![
                "  paused from outside: every worker waits (`resume UserStats` to go on)",
                "  rate limit set from outside: 5,000 rows/s over all workers",
                "  worker limit: at most 2 workers run batches at once, over every process (`workers UserStats N|all` to change)",
                "  shard 0: running, after first key, up to 500, 2 batches, 20 keys, 10 rows",
                "  shard 1: running, after 500, up to last key, 2 batches, 20 keys, 10 rows",
            ]
        );
    }

    #[test]
    fn a_running_job_shows_percent_rate_and_eta() {
        let status = job("running", Some(25_000));
        let span = (KeyValue::Int(1), KeyValue::Int(100_000));
        let fraction = status_fraction(&status, Some(&span));
        assert_eq!(fraction, Some(0.25));
        let now = status.updated_at + chrono::Duration::seconds(3);
        let row = StatusRow::from_status("UserStats", &status, fraction, now);
        assert_eq!(row.cursor, "25000");
        assert_eq!(row.done, "25.0%");
        assert_eq!(row.rows, "25,000");
        assert_eq!(row.rate, "500 rows/s");
        assert_eq!(row.eta, "2m 30s");
        assert_eq!(row.updated, "2024-05-01 10:00:50 UTC (3.0s ago)");
        let text = status_table(&[row, StatusRow::not_started("OrderFacts", "order_facts")]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(
            lines[0].starts_with("BACKFILL    JOB          STATE"),
            "{text}"
        );
        assert!(lines[1].contains("running      25000"), "{text}");
        assert!(lines[2].contains("not started"), "{text}");
    }

    #[test]
    fn text_keys_have_no_percent_and_done_jobs_are_complete() {
        let mut status = job("running", None);
        status.cursor = Some(Key(vec![KeyValue::Text("m".into())]));
        let span = (KeyValue::Text("a".into()), KeyValue::Text("z".into()));
        assert_eq!(status_fraction(&status, Some(&span)), None);
        let row = StatusRow::from_status("X", &status, None, status.updated_at);
        assert!(row.updated.ends_with("(just now)"), "{}", row.updated);
        assert_eq!(row.done, "unknown");
        assert_eq!(row.eta, "unknown");
        assert_eq!(status_fraction(&job("done", Some(5)), None), Some(1.0));
        assert_eq!(status_fraction(&job("running", None), None), Some(0.0));
    }

    #[test]
    fn sql_is_broken_into_clauses() {
        let text = r#"INSERT INTO "user_stats" AS "__t" ("user_id", "n") SELECT "user_id", count(*) FROM events WHERE ("user_id" > $1) AND "user_id" <= $2 GROUP BY "user_id" ON CONFLICT ("user_id") DO UPDATE SET "n" = EXCLUDED."n" WHERE ("__t"."n") IS DISTINCT FROM (EXCLUDED."n")"#;
        assert_eq!(
            sql(text),
            r#"INSERT INTO "user_stats" AS "__t" ("user_id", "n")
SELECT "user_id", count(*)
FROM events
WHERE ("user_id" > $1) AND "user_id" <= $2
GROUP BY "user_id"
ON CONFLICT ("user_id")
DO UPDATE SET "n" = EXCLUDED."n"
WHERE ("__t"."n") IS DISTINCT FROM (EXCLUDED."n")"#
        );
    }

    #[test]
    fn subqueries_are_indented_and_quotes_kept() {
        let text = "INSERT INTO `t` (`k`) SELECT n.`k` FROM (SELECT `k` FROM `s` WHERE note = 'from where' ORDER BY `k` LIMIT ?) AS n ON DUPLICATE KEY UPDATE `k` = n.`k`";
        assert_eq!(
            sql(text),
            "INSERT INTO `t` (`k`)
SELECT n.`k`
FROM (
  SELECT `k`
  FROM `s`
  WHERE note = 'from where'
  ORDER BY `k`
  LIMIT ?
) AS n
ON DUPLICATE KEY UPDATE `k` = n.`k`"
        );
    }

    #[test]
    fn clause_words_inside_calls_and_names_stay() {
        assert_eq!(
            sql("SELECT EXTRACT(YEAR FROM d), count(*) OVER (ORDER BY k), \"from\", selected FROM t"),
            "SELECT EXTRACT(YEAR FROM d), count(*) OVER (ORDER BY k), \"from\", selected\nFROM t"
        );
        assert_eq!(sql("SELECT DISTINCT a FROM t"), "SELECT DISTINCT a\nFROM t");
    }
}
