//! Idempotence: no value reads what it replaces. An expression or filter that reads the
//! target table (qualified by its name, in a subquery, through `from` joining it), the upsert's
//! inserted row (`EXCLUDED.c`, `new.c`, `VALUES(c)`) or the column its own field writes would
//! build on what the previous run wrote, so a retried batch applies it twice.

use super::facts::ColumnRef;
use super::fragment::{Fragment, Parsed};
use crate::ctxt::{self, Ctxt, Message};

/// The advice every rule of this family gives.
pub const ABSOLUTE_HINT: &str = "recompute the absolute value from the source rows instead (e.g. `sum(amount)`, `count(*)`), so a retried batch converges";

/// Why reading the value being replaced is refused.
const NOT_IDEMPOTENT: &str = "that is the value being replaced, so a re-run builds on what the previous run wrote and the backfill is not idempotent";

/// Why the upsert's inserted row is not a source.
const ALREADY_ASSIGNED: &str = "the generated upsert already assigns each column its recomputed value, and `expr` is that value itself";

/// `user_stats` matches `user_stats`, `public.user_stats` and (for target `s.user_stats`)
/// `s.user_stats`.
pub fn names_target(parts: &[String], target: &[String]) -> bool {
    let n = parts.len().min(target.len());
    n > 0
        && parts[parts.len() - n..]
            .iter()
            .zip(&target[target.len() - n..])
            .all(|(a, b)| a.eq_ignore_ascii_case(b))
}

/// `EXCLUDED.c`, MySQL's `new.c` and `VALUES(c)`: the row being written, not the source.
pub fn no_upsert_row_reference(cx: &Ctxt, parsed: &Parsed) {
    for (_, frag) in parsed.field_fragments() {
        if upsert_row_reference(cx, frag, &parsed.sources) {
            frag.reported.set(true);
        }
    }
    if let Some(frag) = &parsed.filter {
        upsert_row_reference(cx, frag, &parsed.sources);
    }
}

fn upsert_row_reference(cx: &Ctxt, frag: &Fragment, sources: &[String]) -> bool {
    for (_, facts) in &frag.facts {
        for r in &facts.qualified {
            let q = r.qualifier.first().map(|q| q.to_ascii_lowercase());
            // A source of `from` named or aliased `new` (`users new`) is the source.
            if r.qualifier.len() == 1 && q.as_ref().is_some_and(|q| sources.contains(q)) {
                continue;
            }
            let what = match q.as_deref() {
                Some("excluded") => "the upsert's EXCLUDED row",
                Some("new") => "MySQL's inserted-row alias `new`",
                _ => continue,
            };
            cx.error_spanned_by(
                frag.lit,
                Message::new(format!(
                    "`{}` refers to {what}, not the source",
                    r.display()
                ))
                .note(format!(
                    "that is the target row being written: {ALREADY_ASSIGNED}"
                ))
                .help(ABSOLUTE_HINT),
            );
            return true;
        }
        if let Some(call) = facts.values_calls.first() {
            cx.error_spanned_by(
                frag.lit,
                Message::new(format!(
                    "`{call}` is MySQL's reference to the row being inserted, not the source"
                ))
                .note(format!("that is the target row: {ALREADY_ASSIGNED}"))
                .help(ABSOLUTE_HINT),
            );
            return true;
        }
    }
    false
}

/// `user_stats.total` (qualified by the target's name) in an upsert's expression or filter.
/// In place on the target's own rows, `in_place::no_written_column_read` applies instead.
pub fn no_target_qualifier(cx: &Ctxt, parsed: &Parsed) {
    let Some(target) = &parsed.target else { return };
    if parsed.cont.updates_own_rows() {
        return;
    }
    for (field, frag) in parsed.field_fragments() {
        if target_qualifier(cx, frag, target, &field.field.column) {
            frag.reported.set(true);
        }
    }
    if let Some(frag) = &parsed.filter {
        target_qualifier(cx, frag, target, "");
    }
}

/// `column` is the field's column, empty for the filter.
fn target_qualifier(cx: &Ctxt, frag: &Fragment, target: &[String], column: &str) -> bool {
    let Some(facts) = frag.first() else {
        return false;
    };
    let Some(r) = facts
        .qualified
        .iter()
        .find(|r| names_target(&r.qualifier, target))
    else {
        return false;
    };
    let same_name = if column.is_empty() { &r.column } else { column };
    let advice = if column.is_empty() {
        "filter on source columns only, so every run selects the same source rows"
    } else {
        ABSOLUTE_HINT
    };
    cx.error_spanned_by(
        frag.lit,
        Message::new(format!(
            "`{}` reads the target table `{}`",
            r.display(),
            target.join(".")
        ))
        .note(NOT_IDEMPOTENT)
        .help(advice)
        .help(format!(
            "a source column of the same name is written with the source's alias, e.g. `e.{same_name}`"
        )),
    );
    true
}

/// A subquery in an expression or the filter that reads the target table.
pub fn no_subquery_reading_target(cx: &Ctxt, parsed: &Parsed) {
    let Some(target) = &parsed.target else { return };
    let fragments = parsed.field_fragments().map(|(_, frag)| frag);
    for frag in fragments.chain(&parsed.filter) {
        let Some(facts) = frag.first() else { continue };
        if facts.relations.iter().any(|r| names_target(r, target)) {
            cx.error_spanned_by(
                frag.lit,
                Message::new(format!(
                    "a subquery reads the target table `{}`",
                    target.join(".")
                ))
                .note("the value being replaced feeds its own recompute, so every re-run drifts further and the backfill is not idempotent")
                .help("compute it from the source tables only"),
            );
        }
    }
}

/// `total + amount` in the field writing `total`: the stored value, or a source column of
/// the same name that needs its alias. A bare `total` copies the source column: fine.
pub fn no_own_column_in_larger_expression(cx: &Ctxt, parsed: &Parsed) {
    for (field, frag) in parsed.field_fragments() {
        if frag.reported.get() {
            continue;
        }
        let column = &field.field.column;
        let Some(facts) = frag.first() else { continue };
        let copies_a_column = facts
            .single_column
            .as_ref()
            .is_some_and(|c| c.qualifier.is_empty());
        // With the schema, a name the source has is the source's column.
        let source_has_it = parsed
            .source_columns
            .as_ref()
            .is_some_and(|cols| cols.iter().any(|c| c.eq_ignore_ascii_case(column)));
        if copies_a_column
            || source_has_it
            || !facts
                .unqualified
                .iter()
                .any(|c| c.eq_ignore_ascii_case(column))
        {
            continue;
        }
        cx.error_spanned_by(
            frag.lit,
            Message::new(format!(
                "{} uses `{column}`, the column this field writes",
                ctxt::shown(&frag.lit.value())
            ))
            .note(format!("if it means the stored value, a re-run adds to what the previous run wrote (`{column} = {column} + n` is not idempotent)"))
            .help(ABSOLUTE_HINT)
            .help(format!("if it means a source column of the same name, qualify it with the source's alias, e.g. `e.{column}`")),
        );
        frag.reported.set(true);
    }
}

/// With the target in `from` (joined in, or a table recomputed from its own other columns), a
/// column the backfill writes is the value being replaced: reading it through the target's
/// alias, or unqualified, is a relative update in disguise.
pub fn no_written_column_read_through_from(cx: &Ctxt, parsed: &Parsed) {
    let (Some(from), Some(target)) = (&parsed.from, &parsed.target) else {
        return;
    };
    let aliases = target_aliases(from, target);
    if aliases.is_empty() {
        return;
    }
    let written = parsed.cont.written_columns();
    for (_, frag) in parsed.field_fragments() {
        if !frag.reported.get() && written_column_read(cx, frag, &aliases, &written, target) {
            frag.reported.set(true);
        }
    }
    if let Some(frag) = &parsed.filter {
        written_column_read(cx, frag, &aliases, &written, target);
    }
}

/// How the top-level `from` names the target table, when it reads it.
fn target_aliases(from: &Fragment, target: &[String]) -> Vec<String> {
    let Some(facts) = from.first() else {
        return Vec::new();
    };
    facts
        .tables
        .iter()
        .filter(|(parts, _)| names_target(parts, target))
        .map(|(parts, alias)| {
            alias
                .clone()
                .unwrap_or_else(|| parts.last().cloned().unwrap_or_default())
        })
        .collect()
}

fn written_column_read(
    cx: &Ctxt,
    frag: &Fragment,
    aliases: &[String],
    written: &[&str],
    target: &[String],
) -> bool {
    let Some(facts) = frag.first() else {
        return false;
    };
    // `expr = "total"` alone writes the column back unchanged: harmless.
    if facts
        .single_column
        .as_ref()
        .is_some_and(|c| c.qualifier.is_empty())
    {
        return false;
    }
    let is_written = |c: &str| written.iter().any(|w| w.eq_ignore_ascii_case(c));
    let through_alias = facts.qualified.iter().find(|r| {
        r.qualifier.len() == 1
            && aliases
                .iter()
                .any(|a| a.eq_ignore_ascii_case(&r.qualifier[0]))
            && is_written(&r.column)
    });
    let read = through_alias
        .map(ColumnRef::display)
        .or_else(|| facts.unqualified.iter().find(|c| is_written(c)).cloned());
    let Some(read) = read else { return false };
    cx.error_spanned_by(
        frag.lit,
        Message::new(format!(
            "`{read}` reads a column this backfill writes, from the target table `{}`",
            target.join(".")
        ))
        .note(format!("`from` reads the target table: {NOT_IDEMPOTENT}"))
        .help(ABSOLUTE_HINT)
        .help("read only columns the backfill does not write"),
    );
    true
}

/// `from` reading the target anywhere the column rules cannot follow: in a derived table, a
/// CTE, a LATERAL subquery or a subquery of an ON clause; under an alias that renames its
/// columns (`user_stats AS s (uid, prev)`); or an ON clause reading a written column through
/// the target's alias. A top-level join of the target is fine as long as the values and
/// the filter read only columns the backfill does not write (see
/// [`no_written_column_read_through_from`]).
pub fn no_target_read_hidden_in_from(cx: &Ctxt, parsed: &Parsed) {
    let (Some(from), Some(target)) = (&parsed.from, &parsed.target) else {
        return;
    };
    if from.reported.get() {
        return;
    }
    let Some(facts) = from.first() else { return };
    let shown = target.join(".");
    let joined = facts
        .tables
        .iter()
        .filter(|(parts, _)| names_target(parts, target))
        .count();
    let read = facts
        .relations
        .iter()
        .filter(|parts| names_target(parts, target))
        .count();
    let message = if read > joined {
        Message::new(format!("`from` reads the target table `{shown}` in a subquery"))
            .note(format!("the check cannot follow which of its columns reach the values: {NOT_IDEMPOTENT}"))
            .help(format!("join the target itself (`JOIN {shown} s ON s.<key> = ...`), so the check sees which of its columns are read"))
            .help("or recompute from the source tables only")
    } else if facts
        .column_aliased
        .iter()
        .any(|parts| names_target(parts, target))
    {
        Message::new(format!("`from` renames the columns of the target table `{shown}`"))
            .note("an alias column list renames the target's columns by position, so the check cannot tell whether a value reads one the backfill writes")
            .help(format!("alias the table only (`{shown} s`) and read its columns by their names"))
    } else {
        let aliases = target_aliases(from, target);
        let written = parsed.cont.written_columns();
        let is_written = |c: &str| written.iter().any(|w| w.eq_ignore_ascii_case(c));
        let through_alias = facts.qualified.iter().find(|r| {
            r.qualifier.len() == 1
                && aliases
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(&r.qualifier[0]))
                && is_written(&r.column)
        });
        let Some(r) = through_alias else { return };
        Message::new(format!(
            "`from` reads `{}`, which this backfill writes into `{shown}`",
            r.display()
        ))
        .note(format!(
            "a join condition on it selects other rows once a run has written it: {NOT_IDEMPOTENT}"
        ))
        .help("join the target on its key or on columns the backfill does not write")
    };
    cx.error_spanned_by(from.lit, message);
}

/// The whole target row (`to_jsonb(s)`, `row_to_json(s)`, `s.*`, with `s` the target's alias
/// or name) in a value, the filter or `from`: it holds every written column, whichever one the
/// expression uses.
pub fn no_whole_target_row(cx: &Ctxt, parsed: &Parsed) {
    let Some(target) = &parsed.target else { return };
    let mut aliases = match &parsed.from {
        Some(from) => target_aliases(from, target),
        None => Vec::new(),
    };
    if parsed.cont.updates_own_rows() {
        aliases.extend(target.last().cloned());
    }
    if aliases.is_empty() {
        return;
    }
    let is_alias = |name: &str| aliases.iter().any(|a| a.eq_ignore_ascii_case(name));
    let fields = parsed.field_fragments().map(|(_, frag)| frag);
    for frag in fields.chain(&parsed.filter).chain(&parsed.from) {
        if frag.reported.get() {
            continue;
        }
        let Some(facts) = frag.first() else { continue };
        let whole = facts
            .unqualified_anywhere
            .iter()
            .find(|c| is_alias(c))
            .cloned()
            .or_else(|| {
                facts
                    .row_wildcards
                    .iter()
                    .find(|q| (q.len() == 1 && is_alias(&q[0])) || names_target(q, target))
                    .map(|q| format!("{}.*", q.join(".")))
            });
        let Some(whole) = whole else { continue };
        cx.error_spanned_by(
            frag.lit,
            Message::new(format!(
                "`{whole}` is the whole row of the target table `{}`",
                target.join(".")
            ))
            .note(format!(
                "it holds every column this backfill writes: {NOT_IDEMPOTENT}"
            ))
            .help("read the target's columns by name, only ones the backfill does not write"),
        );
        frag.reported.set(true);
    }
}

/// A common table expression named like the target (`WITH user_stats AS (...)`) shadows the
/// table inside its query: whether a `user_stats` there is the CTE or the target depends on
/// where it is written, and the check would have to guess. Refused, with the rename to make.
pub fn no_cte_named_like_target(cx: &Ctxt, parsed: &Parsed) {
    let Some(target) = &parsed.target else { return };
    let Some(table) = target.last() else { return };
    let fields = parsed.field_fragments().map(|(_, frag)| frag);
    for frag in fields.chain(&parsed.filter).chain(&parsed.from) {
        let named = frag
            .facts
            .iter()
            .flat_map(|(_, f)| &f.ctes)
            .find(|cte| cte.eq_ignore_ascii_case(table));
        let Some(cte) = named else { continue };
        cx.error_spanned_by(
            frag.lit,
            Message::new(format!("a CTE named `{cte}` hides the target table `{}`", target.join(".")))
                .note(format!("inside its query `{cte}` means the CTE, outside it the target, so the check cannot tell which one a value reads"))
                .help(format!("rename the CTE (e.g. `WITH {cte}_src AS (...)`)")),
        );
        frag.reported.set(true);
    }
}
