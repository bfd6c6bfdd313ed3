use backfill::Backfill;

/// A row-to-row copy: every column defaults to the source column of the same name.
#[derive(Backfill)]
#[backfill(table = "customers_copy", from = "customers")]
pub struct CustomerCopy {
    #[backfill(key)]
    pub id: i64,
    pub email: String,
    pub created_at: chrono::NaiveDateTime,
    pub deleted_at: Option<chrono::NaiveDateTime>,
}

fn main() {}
