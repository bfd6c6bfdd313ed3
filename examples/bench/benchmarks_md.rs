//! `BENCHMARKS.md`: one section per engine and scale between `<!-- bench:ID begin -->` and
//! `<!-- bench:ID end -->` markers. A run replaces its own section and keeps every other one,
//! and every note written by hand below a section.

use std::path::Path;

use backfill::Engine;

use crate::args::DEFAULT_EVENTS;

const HEADER: &str = "# Benchmarks\n\n\
Written by `cargo run --release --example bench -- --engine postgres|mysql|sqlite` (defaults: \
2,000,000 events over 200,000 users, median of 3 runs); `examples/bench/main.rs` explains every figure. \
Each run replaces its engine's section (a run at another scale has a section of its own, such as `postgres-20m`); notes written by hand below a section are kept. The limit is the article's single \
`INSERT ... SELECT ... GROUP BY ... ON CONFLICT / ON DUPLICATE KEY UPDATE` over every key: fast, \
but one transaction that cannot be resumed, throttled or stopped. Since issue 13 the limit is the \
faster of that statement with the optimizer's plan and the same statement with a full scan of the \
source forced (PostgreSQL `enable_indexscan`/`enable_bitmapscan = off`, MariaDB `IGNORE INDEX`, \
SQLite `NOT INDEXED`): the `strategies` sections measure both; the older sections, measured \
before, compare against the optimizer's plan only.\n\n\
How to reproduce: `BACKFILL_TEST_POSTGRES_URL=postgres://... BACKFILL_TEST_MYSQL_URL=mysql://... \
cargo run --release --example bench -- --engine ENGINE [--scenario SCENARIO]`, one engine at a \
time on an otherwise idle machine. Scenarios: `upsert` (the default: the sections `postgres`, \
`mysql`, `sqlite`), `in-place` (`ENGINE-in-place`), `workers` (`ENGINE-workers`: 1, 2 and 4 \
workers against the limit, with the server's and the bench's CPU; PostgreSQL and MariaDB), \
`strategies` (`ENGINE-strategies`, and `ENGINE-strategies-small-cache` on a scratch server with a \
16 MB buffer cache: the single statement with both plans, ranges, ranges with the covering \
index, scan and auto, with what `plan` says) and \
`latency` (`ENGINE-latency`: a steady application load of `--load-rate` single-row reads and \
writes per second, default 500, alone for `--alone-secs`, default 10, and during the limit, the \
default backfill, batches of 100/250/500 ms (`target_batch_time` and `merge_batch_time`) and 2 \
and 4 workers, 9 runs of each figure pooled; PostgreSQL and MariaDB). `--events N`, `--users M` \
and `--repeat N` change the scale and the runs per figure (3, 9 for `latency`); `--help` lists \
every option.\n";

/// The section of a run: the engine's name, and the scale when it is not the default
/// (`postgres-20m` for 20,000,000 events), so a run at another scale keeps the default one.
pub(crate) fn section_id(engine: Engine, events: i64) -> String {
    if events == DEFAULT_EVENTS {
        engine.name().to_string()
    } else if events % 1_000_000 == 0 {
        format!("{}-{}m", engine.name(), events / 1_000_000)
    } else {
        format!("{}-{events}", engine.name())
    }
}

/// A section of `BENCHMARKS.md`: its id, its text between the markers (markers included), and
/// what follows it up to the next section (a note added by hand, kept when the section is
/// replaced).
struct Section {
    id: String,
    text: String,
    note: String,
}

/// Every `<!-- bench:ID begin -->` ... `<!-- bench:ID end -->` section of the file, in order.
fn sections(file: &str) -> Vec<Section> {
    let mut out = Vec::new();
    let mut rest = file;
    while let Some(at) = rest.find("<!-- bench:") {
        let after = &rest[at + "<!-- bench:".len()..];
        let Some(id_end) = after.find(" begin -->") else {
            break;
        };
        let id = after[..id_end].to_string();
        let end_marker = format!("<!-- bench:{id} end -->");
        let Some(stop) = rest.find(&end_marker) else {
            break;
        };
        let tail = &rest[stop + end_marker.len()..];
        let next = tail.find("<!-- bench:").unwrap_or(tail.len());
        out.push(Section {
            id,
            text: rest[at..stop + end_marker.len()].to_string(),
            note: tail[..next].trim().to_string(),
        });
        rest = &tail[next..];
    }
    out
}

/// Replaces (or appends) the section `id`, keeping every other section and every note.
pub(crate) fn write_section(path: &Path, id: &str, section: &str) -> std::io::Result<()> {
    let file = std::fs::read_to_string(path).unwrap_or_default();
    let text = format!(
        "<!-- bench:{id} begin -->\n{}\n<!-- bench:{id} end -->",
        section.trim()
    );
    let mut all = sections(&file);
    match all.iter_mut().find(|s| s.id == id) {
        Some(existing) => existing.text = text,
        None => all.push(Section {
            id: id.to_string(),
            text,
            note: String::new(),
        }),
    }
    let mut out = String::from(HEADER);
    for s in all {
        out.push('\n');
        out.push_str(&s.text);
        out.push('\n');
        if !s.note.is_empty() {
            out.push('\n');
            out.push_str(&s.note);
            out.push('\n');
        }
    }
    std::fs::write(path, out)
}
