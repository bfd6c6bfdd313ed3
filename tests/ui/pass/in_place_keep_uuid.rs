use backfill::Backfill;

/// In place with `merge = "keep"`, only NULL rows are written, once: a volatile value is
/// accepted without `allow_volatile`.
#[derive(Backfill)]
#[backfill(table = "people")]
pub struct PublicId {
    #[backfill(key)]
    pub id: i64,
    #[backfill(
        postgres = "gen_random_uuid()::text",
        mysql = "UUID()",
        sqlite = "lower(hex(randomblob(16)))",
        merge = "keep"
    )]
    pub public_id: Option<String>,
}

fn main() {}
