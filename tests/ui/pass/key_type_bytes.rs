use backfill::Backfill;

/// A binary key (`bytea`, `VARBINARY`, `BLOB`) is a `Vec<u8>`, compared byte by byte.
#[derive(Backfill)]
#[backfill(table = "blob_stats", from = "blobs b")]
pub struct BlobStats {
    #[backfill(key, expr = "b.digest")]
    pub digest: Vec<u8>,
    #[backfill(expr = "count(*)")]
    pub copies: i64,
}

fn main() {
    let def = BlobStats::definition();
    assert_eq!(def.key[0].kind, backfill::__private::KeyKind::Bytes);
}
