use backfill::Backfill;

/// Built-ins of each engine, in per-engine expressions.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(postgres = "max(split_part(e.email, '@', 2))", mysql = "max(substring_index(e.email, '@', -1))", sqlite = "max(substr(e.email, instr(e.email, '@') + 1))")]
    pub domain: String,
}

fn main() {}
