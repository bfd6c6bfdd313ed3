//! The fingerprint of a backfill's statements, stored with its job: a definition whose SQL
//! changed is detected before it writes.

use crate::statement::{Scan, Statements, Storage};

/// FNV-1a 64 of every statement's name, SQL, parameters and holes, in the order of
/// [`Statements::fingerprinted`], as 16 hex digits. The derive computes it; the same function
/// recomputed over the generated `'static` statements gives the same value.
pub fn fingerprint<S: Storage>(statements: &Statements<S>) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (name, stmt) in statements.fingerprinted() {
        let holes: Vec<(usize, usize, usize, &str)> = stmt
            .holes()
            .iter()
            .map(|h| (h.at, h.len, h.column, h.expr.as_ref()))
            .collect();
        let text = format!("{name}\0{}\0{:?}\0{holes:?}\0", stmt.sql(), stmt.params());
        for byte in text.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

/// FNV-1a 64 of the partials phase's statements, as 16 hex digits.
pub fn scan_fingerprint<S: Storage>(scan: &Scan<S>) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (name, stmt) in scan.named() {
        let text = format!("{name}\0{}\0{:?}\0", stmt.sql(), stmt.params());
        for byte in text.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}
