//! The vocabulary `#[derive(Backfill)]` and the runtime share, defined once: the engines and
//! their identifier quoting ([`Engine`]), how key values are bound ([`KeyKind`]), how a column
//! meets the stored value ([`Merge`]), the statements of a backfill and what they bind
//! ([`Statements`], [`Stmt`], [`Param`], [`Hole`]), and the fingerprint that ties a job to them.
//!
//! The derive builds [`Statements<Owned>`](Owned) from its model and emits them (feature
//! `tokens`) as `'static` data that the runtime reads as [`Statements<Static>`](Static): one
//! struct, one list of statement names, one fingerprint, on both sides of the compile.
//!
//! No sqlx, no syn: the proc-macro crate depends on this one without pulling the runtime in.
#![deny(missing_docs)]

pub mod allowlist;
mod engine;
mod fingerprint;
mod key;
pub mod scan;
mod statement;
#[cfg(feature = "tokens")]
mod tokens;

pub use engine::Engine;
pub use fingerprint::{fingerprint, scan_fingerprint};
pub use key::{KeyKind, Merge};
pub use scan::Strategy;
pub use statement::{Hole, Owned, Param, Ranged, Scan, Statements, Static, Stmt, Storage};
