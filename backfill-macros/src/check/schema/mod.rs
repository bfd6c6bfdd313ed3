//! The mapping against the service's schema, when its migrations are found (`crate::schema`):
//! the target table and every written column exist, the key is exactly a PRIMARY KEY or UNIQUE
//! index (and, on MySQL, the only unique key), no NOT NULL column without a default is left
//! out (`target`); every source table and column an expression names exists (`source`); each
//! field's Rust type and each expression's inferred type fit their column (`types`). Without
//! migrations none of this runs, and preflight checks the live schema at run time as before.

mod source;
mod target;
mod types;

use super::fragment::Parsed;
use crate::ast::Container;
use crate::ctxt::{Ctxt, Message};
use crate::model::{self, Engine};
use crate::schema::{self, Loaded, Schema, Table};

/// Reads the migrations for the struct's engines; `None` when there are none (or they could not
/// be read, which is reported at `migrations = "..."` or at the struct).
pub fn load(cx: &Ctxt, cont: &Container, engines: &[Engine]) -> Option<Loaded> {
    let explicit = cont.attrs.migrations.as_ref();
    match schema::load(explicit.map(|l| l.value()).as_deref(), engines) {
        Ok(loaded) => loaded,
        Err(err) => {
            let message = match &err.message {
                None => Message::new(format!("no migrations directory `{}`", err.place))
                    .help("`migrations = \"...\"` (or the crate-wide `BACKFILL_MIGRATIONS`) is relative to the crate's Cargo.toml; without either, `migrations/` is used when it exists"),
                Some(why) => Message::new(format!("cannot replay the migration `{}`", err.place))
                    .note(why.clone())
                    .note("the derive replays the migrations to check the mapping against the schema they leave")
                    .help("fix the statement, or put `-- backfill: skip` just before one that shapes no table (a data fix, a `DO` block)"),
            };
            match explicit {
                Some(lit) => cx.error_spanned_by(lit, message),
                None => cx.error_spanned_by(cont.ident, message),
            }
            None
        }
    }
}

/// The columns of every table `from` reads (the target's own, in place without `from`), when
/// each of them is a table the migrations create: what an unqualified name can mean there.
pub fn source_columns(loaded: &Loaded, parsed: &Parsed) -> Option<Vec<String>> {
    let (_, schema) = loaded.schemas.first()?;
    let tables = source_tables(schema, parsed)?;
    Some(
        tables
            .iter()
            .flat_map(|(_, t)| t.columns.iter().map(|c| c.name.to_ascii_lowercase()))
            .collect(),
    )
}

/// The tables of `from` with the name they are referred to by (alias or last name part), or
/// the target itself without `from`; `None` when one is not a table of the schema.
pub(super) fn source_tables<'s>(
    schema: &'s Schema,
    parsed: &Parsed,
) -> Option<Vec<(String, &'s Table)>> {
    let Some(from) = &parsed.from else {
        let target = schema.table(parsed.target.as_ref()?)?;
        return Some(vec![(target.name.last()?.to_ascii_lowercase(), target)]);
    };
    let facts = from.first()?;
    if facts.fan_out.is_some() && facts.tables.len() < 2 {
        return None; // a derived table or a table function: its columns are not a table's
    }
    facts
        .tables
        .iter()
        .map(|(parts, alias)| {
            let table = schema.table(parts)?;
            let name = alias.clone().or_else(|| parts.last().cloned())?;
            Some((name.to_ascii_lowercase(), table))
        })
        .collect()
}

/// What the runtime is told of each engine's schema: the target's columns and the statements
/// left out.
pub fn checked(loaded: &Loaded, target: &[String]) -> Vec<model::CheckedSchema> {
    loaded
        .schemas
        .iter()
        .filter_map(|(engine, schema)| {
            let table = schema.table(target)?;
            Some(model::CheckedSchema {
                engine: *engine,
                migrations: schema.source.clone(),
                skipped: schema.skipped.clone(),
                columns: table
                    .columns
                    .iter()
                    .map(|c| (c.name.clone(), c.data_type.clone(), c.not_null))
                    .collect(),
            })
        })
        .collect()
}

/// Every rule, for each engine's schema; each mistake is reported once, for the first engine
/// whose migrations show it.
pub fn check(cx: &Ctxt, parsed: &Parsed, loaded: &Loaded) {
    let Some(target_name) = &parsed.target else {
        return;
    };
    for (engine, schema) in &loaded.schemas {
        let errors_before = cx.error_count();
        let Some(target) = target::target_exists(cx, parsed, schema, &schema.source, target_name)
        else {
            break;
        };
        target::columns_exist(cx, parsed, target, &schema.source);
        target::key_is_a_unique_key(cx, parsed, *engine, target);
        if *engine == Engine::MySql && !parsed.cont.attrs.allow_other_unique_keys {
            target::no_other_unique_key(cx, parsed, target);
        }
        if !parsed.cont.in_place() {
            target::no_required_column_left_out(cx, parsed, target);
        }
        source::source_tables_and_columns_exist(cx, parsed, schema, &schema.source);
        let mistyped = types::types_fit(cx, parsed, *engine, target);
        types::expression_types_fit(cx, parsed, *engine, schema, target, &mistyped);
        if cx.error_count() > errors_before {
            break;
        }
    }
}
