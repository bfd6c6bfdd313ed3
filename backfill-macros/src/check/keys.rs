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
