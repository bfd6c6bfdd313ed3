//! Rules on the attributes themselves, across keys and fields: the target table is given and
//! is a name, a batch holds a key, a per-engine expression is for an engine the struct is
//! generated for, `merge` has a stored row to merge with, and each target column is written
//! by one field.

use super::fragment::Parsed;
use crate::ast::{self, Container};
use crate::attr::OnConflict;
use crate::ctxt::{Ctxt, Message};
use crate::model::Engine;

/// `table` is required (unless an unknown attribute was already suggested as `table`).
pub fn table_is_given(cx: &Ctxt, cont: &Container) {
    let name = cont.ident;
    if cont.attrs.table.is_none() && !cont.attrs.suggested.contains(&"table") {
        cx.error_spanned_by(
            name,
            Message::new(format!("missing `table` on `{name}`")).help("name the target table the backfill writes, e.g. `#[backfill(table = \"user_stats\", from = \"events\")]`"),
        );
    }
}

/// `table = "name"` or `"schema.name"`.
pub fn table_is_a_name(cx: &Ctxt, cont: &Container) {
    let Some(lit) = &cont.attrs.table else { return };
    let value = lit.value();
    if !ast::is_table_name(&value) {
        cx.error_spanned_by(
            lit,
            Message::new(format!("`table = \"{value}\"` is not a table name"))
                .note("the generated SQL quotes it for every engine, so reserved words, mixed case, spaces and quotes are fine")
                .help("write `name` or `schema.name`, unquoted and non-empty"),
        );
    }
}

/// `batch_size = 0` cannot make progress.
pub fn batch_size_is_positive(cx: &Ctxt, cont: &Container) {
    if let Some((0, lit)) = &cont.attrs.batch_size {
        cx.error_spanned_by(
            lit,
            Message::new("`batch_size = 0`: a batch holds at least one key").help("write a positive number such as `batch_size = 1000`, or leave it out for adaptive sizing"),
        );
    }
}

/// A `postgres`/`mysql`/`sqlite` expression for an engine left out of `engines = "..."`.
pub fn per_engine_expressions_are_generated(cx: &Ctxt, parsed: &Parsed) {
    let Some((_, engines)) = &parsed.cont.attrs.engines else {
        return;
    };
    for field in &parsed.cont.fields {
        for engine in Engine::ALL {
            let Some(lit) = &field.attrs.engine_exprs[engine.index()] else {
                continue;
            };
            if !parsed.engines.contains(&engine) {
                cx.error_spanned_by(
                    lit,
                    Message::new(format!(
                        "a `{}` expression, but `engines = \"{}\"` leaves {} out",
                        engine.name(),
                        engines.value(),
                        engine.name()
                    ))
                    .help(format!(
                        "add {} to `engines` or remove this expression",
                        engine.name()
                    )),
                );
            }
        }
    }
}

/// `merge` combines with a stored row, which `on_conflict = "nothing"` never updates.
pub fn merge_needs_update(cx: &Ctxt, parsed: &Parsed) {
    let Some((OnConflict::Nothing, _)) = &parsed.cont.attrs.on_conflict else {
        return;
    };
    for field in &parsed.cont.fields {
        if let Some((_, lit)) = &field.attrs.merge {
            cx.error_spanned_by(
                lit,
                Message::new(format!(
                    "`merge` on `{}` has no effect with `on_conflict = \"nothing\"`",
                    field.column
                ))
                .note("`on_conflict = \"nothing\"` never updates a stored row")
                .help("remove one of them"),
            );
        }
    }
}

/// `column = "..."` names one target column.
pub fn column_names_are_plain(cx: &Ctxt, parsed: &Parsed) {
    for field in &parsed.cont.fields {
        if let Some(lit) = &field.attrs.column {
            if !ast::is_plain_identifier(&field.column) {
                cx.error_spanned_by(
                    lit,
                    Message::new(format!("`column = \"{}\"` is not a column name", field.column))
                        .note("the generated SQL quotes it for every engine, so reserved words such as `order`, mixed case and spaces are fine")
                        .help("write the target column unquoted and non-empty"),
                );
            }
        }
    }
}

/// Two fields on one target column (by name, or through `column = "..."`).
pub fn no_column_written_twice(cx: &Ctxt, parsed: &Parsed) {
    let fields = &parsed.cont.fields;
    for (i, field) in fields.iter().enumerate() {
        let Some(first) = fields[..i]
            .iter()
            .find(|f| f.column.eq_ignore_ascii_case(&field.column))
        else {
            continue;
        };
        let spanned = field
            .attrs
            .column
            .as_ref()
            .map(quote::ToTokens::to_token_stream)
            .unwrap_or_else(|| quote::ToTokens::to_token_stream(field.ident));
        cx.error_spanned_by(
            spanned,
            Message::new(format!(
                "fields `{}` and `{}` both write column `{}`",
                first.ident, field.ident, field.column
            ))
            .help("map each target column once (rename one with `column = \"...\"`)"),
        );
    }
}
