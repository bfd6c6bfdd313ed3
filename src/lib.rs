//! # backfill
//!
//! Idempotent, resumable data backfills on PostgreSQL, MySQL/MariaDB and SQLite, checked at
//! compile time. See the README for the guide; this crate re-exports the derive and the runtime.
#![deny(missing_docs)]

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

pub use backfill_macros::Backfill;
pub use backfill_runtime::pool::{AnyPool, BackfillPool};
pub use backfill_runtime::{
    access, allowlist, cli, definition, options, throttle, value, verify, AccessPath, Backfill,
    CancellationToken, Control, Definition, Engine, Error, JobStatus, Key, KeyValue, Plan,
    Progress, Report, RunOptions, ScanReport, ShardStatus, SourceAccess, StopReason, Strategy,
    VerifyReport,
};

/// The sqlx version backfill is built with, so a service's pool types match.
pub use backfill_runtime::sqlx_reexport as sqlx;

/// Registers backfills for [`cli::main`]: `backfill::registry![UserStats, OrderTotals]`.
#[macro_export]
macro_rules! registry {
    ($($ty:ty),* $(,)?) => {
        $crate::cli::Registry::new(vec![$($crate::cli::Registered::of::<$ty>()),*])
    };
}

/// Items the generated code names by absolute path; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use backfill_runtime::definition::*;
    pub use backfill_runtime::pool::BackfillPool;
    pub use backfill_runtime::sqlx_reexport as sqlx;
    pub use backfill_runtime::{Error, Report, RunOptions, VerifyReport};
}
