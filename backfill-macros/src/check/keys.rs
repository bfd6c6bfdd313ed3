//! Keys: a backfill has one; each key field binds as an integer, text or bytes (the batch
//! ranges and the cursor hold key values); a key is a per-row value, never an aggregate, and is
//! never merged (it is what the upsert conflicts on).

use super::fragment::Parsed;
use crate::ast;
use crate::ctxt::{Ctxt, Message};

/// At least one field is marked `#[backfill(key)]`.
pub fn has_key(cx: &Ctxt, parsed: &Parsed) {
    let cont = parsed.cont;
    if !cont.fields.is_empty() && cont.key_fields().next().is_none() {
        let name = cont.ident;
        cx.error_spanned_by(
            name,
            Message::new(format!("`{name}` has no key field"))
                .note("the upsert conflicts on the key and batches are ranges of it")
                .help("mark the field(s) of the target's primary key or unique index with `#[backfill(key)]`"),
        );
    }
}

/// Integers that fit in `i64` (or `u64`), `String` or `Vec<u8>`.
pub fn key_type_is_bindable(cx: &Ctxt, parsed: &Parsed) {
    for field in parsed.cont.key_fields() {
        if field.key_kind().is_none() {
            cx.error_spanned_by(
                field.ty,
                Message::new(format!(
                    "key field `{}` has type `{}`, which cannot be a key",
                    field.ident,
                    ast::type_name(field.ty)
                ))
                .note(
                    "batch ranges bind key values with their own type and store them in the cursor",
                )
                .help("a key must be an integer (i8 to i64, u8 to u64), `String` or `Vec<u8>`"),
            );
        }
    }
}

/// The source is grouped by the key, so the key cannot aggregate.
pub fn key_is_not_aggregate(cx: &Ctxt, parsed: &Parsed) {
    for field in parsed.key_fields() {
        let column = &field.field.column;
        for frag in &field.fragments {
            if let Some(agg) = frag.first().and_then(|f| f.aggregates.first()) {
                cx.error_spanned_by(
                    frag.lit,
                    Message::new(format!("key `{column}` uses the aggregate `{agg}(...)`"))
                        .note("the source is grouped by the key")
                        .help(format!("a key is a source column or a per-row expression, e.g. `expr = \"e.{column}\"`")),
                );
            }
        }
    }
}

/// A key column is never updated, so there is nothing to merge.
pub fn key_is_not_merged(cx: &Ctxt, parsed: &Parsed) {
    for field in parsed.cont.key_fields() {
        if let Some((_, lit)) = &field.attrs.merge {
            cx.error_spanned_by(
                lit,
                Message::new(format!("key `{}` is merged", field.column))
                    .note("a key column is what the upsert conflicts on and is never updated")
                    .help("remove `merge`"),
            );
        }
    }
}

/// A row mapping (no value aggregates) writes one target row per source row: its key must be
/// plain source columns over a single table, or several source rows can give one key and the
/// last one wins (MySQL, SQLite) or the batch fails (PostgreSQL). A computed key (`lower(email)`)
/// and a `from` that joins or unnests are refused unless the struct declares
/// `source_key_unique`; the run then still stops on a duplicate key, naming it.
pub fn row_key_identifies_one_source_row(cx: &Ctxt, parsed: &Parsed, grouped: bool) {
    if grouped || parsed.cont.attrs.source_key_unique || parsed.key_fields().next().is_none() {
        return;
    }
    let declare = "if each key value meets one source row, declare it with `source_key_unique` on the struct (the run still stops on a duplicate key, naming it)";
    for field in parsed.key_fields() {
        let column = &field.field.column;
        let computed = field
            .fragments
            .iter()
            .find(|frag| frag.facts.iter().any(|(_, f)| f.single_column.is_none()));
        if let Some(frag) = computed.filter(|frag| !frag.reported.get()) {
            cx.error_spanned_by(
                frag.lit,
                Message::new(format!("key `{column}` is computed, so several source rows can give one key"))
                    .note("each source row writes its own target row: rows that compute the same key overwrite each other in whatever order they come (PostgreSQL refuses the batch)")
                    .help(format!("key on a source column that identifies the row (e.g. `expr = \"u.id\"`), or aggregate the values per `{column}`"))
                    .help(declare),
            );
        }
    }
    let Some(from) = parsed.from.as_ref().filter(|f| !f.reported.get()) else {
        return;
    };
    if let Some(joined) = from.first().and_then(|f| f.fan_out.as_ref()) {
        let keys: Vec<&str> = parsed
            .key_fields()
            .map(|f| f.field.column.as_str())
            .collect();
        cx.error_spanned_by(
            from.lit,
            Message::new(format!("a row mapping over `{joined}` can give one key several rows"))
                .note(format!("each joined row writes its own target row: when one `{}` meets several rows they overwrite each other in whatever order they come (PostgreSQL refuses the batch)", keys.join(", ")))
                .help("aggregate the values per key (e.g. `max(o.total)`, `count(o.id)`)")
                .help(declare),
        );
    }
}
