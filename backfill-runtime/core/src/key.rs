//! How a key column is bound and how a written column meets the value already stored.

/// How a key column's values are bound and stored in the cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// A signed integer type, or an unsigned one narrower than 64 bits; bound and read as
    /// `i64`.
    Int,
    /// `u64`; bound and read as `u64` (MySQL/MariaDB `BIGINT UNSIGNED`).
    UInt,
    /// `String`; bound and read as text, compared by the key's own type and collation.
    Text,
    /// `Vec<u8>`; bound and read as a binary string, compared byte by byte.
    Bytes,
}

/// How a column's new value is combined with the stored one on conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// Overwrite with the recomputed value (the default).
    Overwrite,
    /// `GREATEST(stored, new)`, NULLs ignored.
    Greatest,
    /// `LEAST(stored, new)`, NULLs ignored.
    Least,
    /// Keep the stored value; only an inserted row gets the recomputed one.
    Keep,
}
