//! In place: existing target rows are updated, never inserted. Without `from`, each row is
//! computed from its own other columns, so a value may not read a column the backfill writes,
//! aggregate, or be missing; the key is the table's own key column; and `on_conflict` has no
//! insert to apply to.

use super::fragment::{Fragment, Parsed};
use super::relative::names_target;
use crate::ctxt::{self, Ctxt, Message};

/// In place on the target's own rows, a column the backfill writes is the value being
/// replaced: reading it (bare or qualified by the table), its own column included, makes the
/// update relative (`visits = visits + 1`), or makes two fields depend on each other's new value
/// (which MySQL, evaluating a single-table UPDATE left to right, and PostgreSQL answer
/// differently).
pub fn no_written_column_read(cx: &Ctxt, parsed: &Parsed) {
    let Some(target) = &parsed.target else { return };
    if !parsed.cont.updates_own_rows() {
        return;
    }
    let written = parsed.cont.written_columns();
    for (field, frag) in parsed.field_fragments() {
        if written_column_read(cx, frag, &written, target, &field.field.column) {
            frag.reported.set(true);
        }
    }
    if let Some(frag) = &parsed.filter {
        written_column_read(cx, frag, &written, target, "");
    }
}

/// `own` is the field's column, empty for the filter.
fn written_column_read(
    cx: &Ctxt,
    frag: &Fragment,
    written: &[&str],
    target: &[String],
    own: &str,
) -> bool {
    let Some(facts) = frag.first() else {
        return false;
    };
    let is_written = |c: &str| written.iter().any(|w| w.eq_ignore_ascii_case(c));
    let read = facts
        .unqualified
        .iter()
        .find(|c| is_written(c))
        .cloned()
        .or_else(|| {
            facts
                .qualified
                .iter()
                .find(|r| names_target(&r.qualifier, target) && is_written(&r.column))
                .map(|r| r.display())
        });
    let Some(read) = read else { return false };
    let column = read.rsplit('.').next().unwrap_or(&read);
    let assignment = assignment(own, &frag.lit.value());
    let message = if column.eq_ignore_ascii_case(own) {
        Message::new(format!("{assignment} reads `{read}`, the column it writes"))
            .note(format!("that is the value being replaced, so a retried batch applies the change twice (`{own} = {own} + 1` is not idempotent)"))
            .help("compute the new value from the row's other columns, which the backfill does not write")
    } else if own.is_empty() {
        Message::new(format!(
            "the filter reads `{read}`, a column this in-place backfill writes"
        ))
        .note("each run would select other rows as it changes them")
        .help("filter on columns the backfill does not write")
    } else {
        Message::new(format!("{assignment} reads `{read}`, which another field writes"))
            .note("PostgreSQL computes every new value from the old row, MySQL from the values already assigned (left to right), and a retried batch reads its own output")
            .help("compute each value from columns the backfill does not write")
    };
    cx.error_spanned_by(frag.lit, message);
    true
}

/// `column = expr` as a message shows it (the expression elided when long).
fn assignment(column: &str, expr: &str) -> String {
    match ctxt::shown(expr).strip_prefix('`') {
        Some(quoted) => format!("`{column} = {quoted}"),
        None => format!("`{column} = ...`"),
    }
}

/// In place on the target's own rows, the key is the target's own key column.
pub fn key_is_the_target_column(cx: &Ctxt, parsed: &Parsed) {
    if !parsed.cont.updates_own_rows() {
        return;
    }
    for field in parsed.cont.key_fields() {
        let attrs = &field.attrs;
        let Some(lit) = attrs
            .expr
            .as_ref()
            .or(attrs.engine_exprs.iter().flatten().next())
        else {
            continue;
        };
        cx.error_spanned_by(
            lit,
            Message::new(format!(
                "key `{}` has an expression in an in-place backfill without `from`",
                field.column
            ))
            .note("without `from`, batches are ranges of the target's own key column")
            .help("remove `expr` (name the column with `column = \"...\"` if it differs from the field)"),
        );
    }
}

/// In place on the target's own rows, each key is one row: an aggregate has nothing to
/// aggregate, and the UPDATE cannot hold one.
pub fn no_aggregate_in_place(cx: &Ctxt, parsed: &Parsed) {
    if !parsed.cont.updates_own_rows() {
        return;
    }
    for frag in parsed.value_fields().flat_map(|f| &f.fragments) {
        let Some(agg) = frag.first().and_then(|f| f.aggregates.first()) else {
            continue;
        };
        cx.error_spanned_by(
            frag.lit,
            Message::new(format!(
                "`{agg}(...)` aggregates in an in-place backfill without `from`"
            ))
            .note("without `from`, each row is computed from its own columns")
            .help("to aggregate other tables per key, name them in `from` and add `in_place`, e.g. `from = \"users u LEFT JOIN orders o ON o.user_id = u.id\", in_place`"),
        );
    }
}

/// In place on the target's own rows, a value field without an expression would copy its
/// column onto itself.
pub fn value_has_an_expression(cx: &Ctxt, parsed: &Parsed) {
    if !parsed.cont.updates_own_rows() {
        return;
    }
    for field in parsed.cont.value_fields() {
        if field.has_expression() {
            continue;
        }
        cx.error_spanned_by(
            field.ident,
            Message::new(format!(
                "field `{}` has no `expr` in an in-place backfill without `from`",
                field.ident
            ))
            .note("without `from`, each column is computed from the row's other columns")
            .help("write how, e.g. `#[backfill(expr = \"first_name || ' ' || last_name\")]`"),
        );
    }
}

/// In place, rows are updated, never inserted: `on_conflict` has nothing to choose.
pub fn no_on_conflict_in_place(cx: &Ctxt, parsed: &Parsed) {
    if !parsed.cont.in_place() {
        return;
    }
    if let Some((_, lit)) = &parsed.cont.attrs.on_conflict {
        cx.error_spanned_by(
            lit,
            Message::new("`on_conflict` in an in-place backfill, which only updates existing rows")
                .note("`on_conflict` applies to inserts")
                .help("remove it (to write a column only where it is NULL, use `merge = \"keep\"` on that field)"),
        );
    }
}
