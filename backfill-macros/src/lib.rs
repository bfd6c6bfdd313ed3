//! `#[derive(Backfill)]`, the compile-time half of [`backfill`](https://docs.rs/backfill).
//!
//! A pipeline, one stage per file: [`attr`] reads `#[backfill(...)]` into typed values with
//! spans, [`ast`] puts them beside the struct's fields, [`check`] applies the rules (a flat
//! list, one file per family) and yields the validated, syn-free [`model`], [`sql`] writes every
//! statement for every engine, and [`expand`] turns it all into tokens, or, when any rule
//! failed, [`fallback`] emits the errors with a stand-in impl. Errors are collected in a
//! [`ctxt::Ctxt`] and reported together.
#![deny(missing_docs)]

mod ast;
mod attr;
mod check;
mod ctxt;
mod dialect;
mod expand;
mod fallback;
mod model;
mod schema;
mod sql;

use proc_macro::TokenStream;

/// Derives `backfill::Backfill` for a struct mapping a source query onto a target table: the
/// upsert and every other statement for each engine, checked for idempotence at compile time.
///
/// # Attribute reference, and what each generates per engine
///
/// Struct attributes, `#[backfill(...)]` on the struct:
///
/// | attribute | PostgreSQL | MySQL/MariaDB | SQLite |
/// |---|---|---|---|
/// | `table = "schema.name"` (required) | `INSERT INTO "schema"."name" AS "__t"` | ``INSERT INTO `schema`.`name` `` | `INSERT INTO "schema"."name" AS "__t"` (an attached database) |
/// | `from = "events e JOIN users u ON ..."` (required) | `SELECT ... FROM <from>` | inside the derived table `(SELECT ... FROM <from>) AS n` | `SELECT ... FROM <from>` |
/// | `filter = "e.deleted_at IS NULL"` | `WHERE (<filter>) AND <key range>` | same | same |
/// | `batch_size = 1000` | distinct keys per batch (`LIMIT $n` in the bounds query); off = adaptive | `LIMIT ?` | `LIMIT ?` |
/// | `job = "name"` | the job's row in the progress table (default: the table name) | same | same |
/// | `on_conflict = "nothing"` | `ON CONFLICT (key) DO NOTHING` | ``ON DUPLICATE KEY UPDATE `k` = `k` `` (a no-op; never `INSERT IGNORE`) | `ON CONFLICT (key) DO NOTHING` |
/// | `allow_other_unique_keys` | — | preflight accepts other unique indexes on the target | — |
/// | `engines = "postgres, mysql"` | statements generated and checked only for these engines | | |
///
/// Field attributes:
///
/// | attribute | PostgreSQL | MySQL/MariaDB | SQLite |
/// |---|---|---|---|
/// | `key` | `ON CONFLICT ("k")`; batches `"k" > $1 AND "k" <= $2` | `` `k` > ? AND `k` <= ? `` (composite keys expanded: `a > ? OR (a = ? AND b > ?)`) | `ON CONFLICT ("k")`; row values for composite keys |
/// | `expr = "sum(amount)"` | the value in the `SELECT`; `GROUP BY` the key when any value aggregates | same, aliased in the derived table | same |
/// | `postgres = / mysql = / sqlite = "..."` | replaces `expr` on that engine only | | |
/// | `column = "name"` | the target column (quoted, any name) | | |
/// | (default update) | `SET "c" = EXCLUDED."c" WHERE ("__t"."c", ..) IS DISTINCT FROM (EXCLUDED."c", ..)` | `` `c` = `n`.`c` `` (unchanged rows are not written) | `SET "c" = excluded."c" WHERE "__t"."c" IS NOT excluded."c" OR ...` |
/// | `merge = "greatest"` / `"least"` | `GREATEST("__t"."c", EXCLUDED."c")` (NULLs ignored) | ``COALESCE(GREATEST(`t`.`c`, `n`.`c`), `t`.`c`, `n`.`c`)`` | `COALESCE(max(..), ..)` |
/// | `merge = "keep"` | column left out of the `SET` | same | same |
/// | `allow_volatile` | accepts `now()`, `random()`, ... in this field | | |
///
/// Compile errors (each spanned at the attribute, all reported together): a value reading the
/// target (`EXCLUDED.c`, `VALUES(c)`, `new.c`, `t.c`, its own column, a subquery or join on the
/// target), a volatile function without `allow_volatile` (never allowed in `filter`), a bare
/// column in a grouped mapping, no key, an aggregate key, two fields on one column, unknown or
/// relative-update attributes, SQL that does not parse for an engine, `batch_size = 0`, enums,
/// tuple and generic structs, and field types sqlx cannot bind.
#[proc_macro_derive(Backfill, attributes(backfill))]
pub fn derive_backfill(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    expand::derive(&input).into()
}
