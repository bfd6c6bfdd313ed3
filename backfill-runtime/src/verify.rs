//! Verify: recompute every range read-only and compare with the target.

use crate::value::Key;

/// What [`verify`](crate::pool::BackfillPool::verify) found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VerifyReport {
    /// Rows in the target table.
    pub target_rows: u64,
    /// Distinct non-NULL keys in the source.
    pub source_keys: u64,
    /// Keys the source produces that the target lacks.
    pub missing: u64,
    /// Keys in the target that no source row produces.
    pub extra: u64,
    /// Keys whose stored values differ from the recomputed ones.
    pub different: u64,
    /// Up to 10 missing keys.
    pub missing_samples: Vec<Key>,
    /// Up to 10 extra keys.
    pub extra_samples: Vec<Key>,
    /// Up to 10 differing keys.
    pub different_samples: Vec<Key>,
}
