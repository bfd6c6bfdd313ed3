use backfill::Backfill;

/// `order` is a reserved word in every engine: quoted in the generated SQL.
#[derive(Backfill)]
#[backfill(table = "menu_items", from = "menu_source m")]
pub struct MenuItem {
    #[backfill(key, expr = "m.id")]
    pub id: i64,
    #[backfill(column = "order", expr = "m.position")]
    pub position: i64,
    #[backfill(column = "group", expr = "m.section")]
    pub section: String,
}

fn main() {}
