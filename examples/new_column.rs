//! A new column, the safe way, on SQLite (no server): `cargo run --example new_column`.
//!
//! 1. add the column NULLable (a NOT NULL column without a default cannot be added to a table
//!    that has rows, and the application does not write it yet);
//! 2. deploy the application writing it for new rows;
//! 3. backfill the existing rows in place, in small batches, resumable;
//! 4. verify;
//! 5. only then make it NOT NULL.

use backfill::sqlx::sqlite::SqlitePoolOptions;
use backfill::sqlx::SqlitePool;
use backfill::{Backfill, RunOptions};

/// `full_name` of every person, from the row's own first and last name (no `from`: in place).
#[derive(Backfill, Debug)]
#[backfill(table = "people", batch_size = 500)]
pub struct FullName {
    /// The table's own primary key.
    #[backfill(key)]
    pub id: i64,
    /// An absolute value recomputed from the same row: a re-run writes nothing.
    #[backfill(
        expr = "first_name || ' ' || last_name",
        mysql = "CONCAT(first_name, ' ', last_name)"
    )]
    pub full_name: Option<String>,
}

const PEOPLE: i64 = 10_000;

/// Runs one of this example's own statements (one is built with `format!` from a constant, which
/// sqlx asks code to assert is safe).
async fn exec(pool: &SqlitePool, sql: &str) -> Result<u64, backfill::sqlx::Error> {
    Ok(backfill::sqlx::query(backfill::sqlx::AssertSqlSafe(sql))
        .execute(pool)
        .await?
        .rows_affected())
}

async fn count(pool: &SqlitePool, sql: &'static str) -> Result<i64, backfill::sqlx::Error> {
    backfill::sqlx::query_scalar(sql).fetch_one(pool).await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await?;

    // The existing table: required columns without defaults, as applications have them.
    exec(&pool, "CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT NOT NULL, first_name TEXT NOT NULL, last_name TEXT NOT NULL)").await?;
    exec(
        &pool,
        &format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {PEOPLE})
             INSERT INTO people (id, email, first_name, last_name)
             SELECT i, 'user' || i || '@example.com', 'First' || (i % 97), 'Last' || (i % 89) FROM n"
        ),
    )
    .await?;

    // 1. The new column, NULLable.
    exec(&pool, "ALTER TABLE people ADD COLUMN full_name TEXT").await?;
    println!("added people.full_name (NULL in all {PEOPLE} rows)");

    // 2. The application now writes full_name for the rows it inserts or renames.
    exec(&pool, "INSERT INTO people (id, email, first_name, last_name, full_name) VALUES (20000, 'new@example.com', 'Ada', 'Lovelace', 'Ada Lovelace')").await?;

    // 3. Backfill the rest in place: an UPDATE per key range, the cursor committed with it.
    //    (An upsert could not do this: its INSERT would lack email, first_name, last_name.)
    let first = FullName::run_backfill(&pool, RunOptions::default().max_batches(5)).await?;
    println!(
        "stopped after {} batches (as if the pod was evicted), cursor {}",
        first.batches,
        first.cursor.map(|k| k.to_string()).unwrap_or_default()
    );
    let rest = FullName::run_backfill(&pool, RunOptions::default()).await?;
    println!(
        "resumed from {}: {} batches, {} rows written (the application's row was already right)",
        rest.resumed_from.map(|k| k.to_string()).unwrap_or_default(),
        rest.batches,
        rest.rows_written
    );
    assert_eq!(first.rows_written + rest.rows_written, PEOPLE as u64);

    // 4. Verify, and a re-run writes nothing.
    let verify = FullName::verify(&pool).await?;
    println!("verify: {verify}");
    assert!(verify.is_clean());
    let again = FullName::run_backfill(&pool, RunOptions::default().restart(true)).await?;
    assert_eq!(again.rows_written, 0);
    let nulls = count(&pool, "SELECT count(*) FROM people WHERE full_name IS NULL").await?;
    assert_eq!(nulls, 0);
    println!(
        "re-run: {} rows written; {nulls} NULLs left",
        again.rows_written
    );

    // 5. NOT NULL. SQLite cannot alter a column's nullability: rebuild the table (CREATE the new
    //    shape, INSERT ... SELECT, DROP, RENAME, in one transaction), or guard new writes with
    //    triggers. On the servers it is one statement, once verify is clean:
    println!("now make it NOT NULL:");
    println!("  PostgreSQL:    ALTER TABLE people ALTER COLUMN full_name SET NOT NULL;");
    println!("                 (big table: ADD CONSTRAINT full_name_nn CHECK (full_name IS NOT NULL) NOT VALID,");
    println!("                  VALIDATE CONSTRAINT full_name_nn, then SET NOT NULL uses it without a scan)");
    println!("  MySQL/MariaDB: ALTER TABLE people MODIFY full_name VARCHAR(200) NOT NULL;");
    Ok(())
}
