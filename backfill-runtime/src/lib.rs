//! The runtime of [`backfill`](https://docs.rs/backfill): runs the batches that
//! `#[derive(Backfill)]` generated, on PostgreSQL, MySQL/MariaDB and SQLite.
//!
//! Users depend on the `backfill` facade, not on this crate. The pieces, one file or folder
//! each:
//!
//! - [`definition`]: what the derive generates (statements per engine, key, columns);
//! - [`pool`]: the entry points, [`BackfillPool`] (`run_backfill`, `check`, `verify`, `status`,
//!   `reset`, `plan`) for `PgPool`, `MySqlPool` and `SqlitePool`, and [`AnyPool`], a pool of
//!   any of them;
//! - [`options`], [`value`], [`error`]: what a run takes, keys, and the one public [`Error`];
//! - `engine/`: everything that differs per engine, behind one `Driver` trait, with one folder
//!   per engine holding the same files (`mod.rs`, `access.rs`, `catalog.rs`, `coerce.rs`,
//!   `connect.rs`, `lag.rs`, `preflight.rs`; its module doc has the map);
//! - `batch`: the engine-agnostic batch loop (one transaction per key range);
//! - `progress`: the progress table (cursor committed with the data);
//! - `preflight`: the engine-agnostic rules of the catalog checks before the first write;
//! - `coerce`: a statement's holes filled with the target's column types;
//! - [`verify`]: the read-only recompute-and-compare;
//! - [`access`]: how the batches read the source (in key order, covered, or scattered) and the
//!   covering index that makes each range an in-order read, for `plan` and `check`;
//! - [`throttle`]: rate limit and replica-lag guard; `sizing`: adaptive batch size;
//! - [`cli`]: the command line a service embeds.
#![deny(missing_docs)]

pub mod access;
pub mod cli;
pub mod definition;
pub mod drift;
pub mod error;
pub mod options;
pub mod pool;
pub mod throttle;
pub mod value;
pub mod verify;

mod batch;
mod coerce;
mod engine;
mod preflight;
mod progress;
mod scan;
mod shard;
mod sizing;

pub use access::{AccessPath, SourceAccess};
pub use backfill_core::allowlist;
pub use definition::{Backfill, Definition, Engine, Strategy};
pub use error::Error;
pub use options::{
    Control, JobStatus, Plan, Progress, Report, RunOptions, ScanReport, ScanStatus, ShardStatus,
    StopReason,
};
pub use pool::{AnyPool, BackfillPool};
pub use tokio_util::sync::CancellationToken;
pub use value::{Key, KeyValue};
pub use verify::VerifyReport;

#[doc(hidden)]
pub use sqlx as sqlx_reexport;
