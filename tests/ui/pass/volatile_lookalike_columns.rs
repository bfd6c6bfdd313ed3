use backfill::Backfill;

/// Columns whose names look like volatile functions are plain column references.
#[derive(Backfill)]
#[backfill(table = "device_copies", from = "devices d")]
pub struct DeviceCopy {
    #[backfill(key, expr = "d.uuid")]
    pub uuid: String,
    #[backfill(expr = "d.random_seed")]
    pub random_seed: i64,
    #[backfill(expr = "d.now_playing")]
    pub now_playing: Option<String>,
}

fn main() {}
