use backfill::Backfill;

/// A column of an existing table filled in place from the row's other columns (no `from`).
#[derive(Backfill)]
#[backfill(table = "people")]
pub struct FullName {
    #[backfill(key)]
    pub id: i64,
    #[backfill(
        expr = "first_name || ' ' || last_name",
        mysql = "CONCAT(first_name, ' ', last_name)"
    )]
    pub full_name: Option<String>,
}

fn main() {
    let def = FullName::definition();
    assert_eq!(def.table, "people");
}
