//! Grouping: when any value aggregates, the source is grouped by the key, so every other value
//! is an aggregate or a key expression, on every engine alike. A value is computed over one
//! key's source rows, never over a batch: no window function, no aggregate in the filter.

use super::facts::ColumnRef;
use super::fragment::{Parsed, ParsedField};
use super::relative::names_target;
use crate::ctxt::{self, Ctxt, Message};
use crate::model::Engine;

/// A window over the source is computed over the rows of one batch.
pub fn no_window_function(cx: &Ctxt, parsed: &Parsed) {
    for (field, frag) in parsed.field_fragments() {
        let Some(window) = frag.facts.iter().find_map(|(_, f)| f.windows.first()) else {
            continue;
        };
        cx.error_spanned_by(
            frag.lit,
            Message::new(format!(
                "`{window}(...) OVER (...)` is a window function over one batch's rows"
            ))
            .note(format!("`{}` would change with the batch boundaries, and a re-run with another batch size writes other values", field.field.column))
            .help("use an aggregate grouped by the key (e.g. `count(*)`, `max(e.created_at)`) instead"),
        );
    }
}

/// The filter is the source's WHERE: an aggregate there fails at run time.
pub fn no_aggregate_in_filter(cx: &Ctxt, parsed: &Parsed) {
    let Some(frag) = &parsed.filter else { return };
    if let Some(agg) = frag.first().and_then(|f| f.aggregates.first()) {
        cx.error_spanned_by(
            frag.lit,
            Message::new(format!("`filter` uses the aggregate `{agg}(...)`"))
                .note("the filter selects source rows before they are grouped by the key")
                .help("filter on row columns (e.g. `e.kind <> 'test'`)"),
        );
    }
}

/// Whether the mapping is grouped (any non-key value aggregates); a grouped mapping aggregates
/// on every engine, and each of its non-key values is an aggregate or a key expression.
pub fn grouped(cx: &Ctxt, parsed: &Parsed) -> bool {
    // Without a key there is nothing to group by; that error is reported on its own.
    if parsed.key_fields().next().is_none() {
        return false;
    }
    let engines = engines_that_parsed(parsed);
    let Some(grouping) = Grouping::find(parsed, &engines) else {
        return false;
    };
    if grouping.on.len() != engines.len() {
        not_grouped_on_every_engine(cx, parsed, &engines, &grouping);
        return true;
    }
    let keys = KeyColumns::of(parsed);
    for field in parsed.value_fields() {
        copied_column_is_a_key(cx, field, &keys, &grouping);
        expression_is_aggregated(cx, field, &keys, &grouping);
    }
    true
}

/// The engines every fragment parsed for: an engine some fragment did not parse for was
/// reported already and has no facts.
fn engines_that_parsed(parsed: &Parsed) -> Vec<Engine> {
    let failed = |e: &Engine| parsed.field_fragments().any(|(_, f)| f.failed.contains(e));
    parsed
        .engines
        .iter()
        .copied()
        .filter(|e| !failed(e))
        .collect()
}

/// Where the mapping aggregates, and its first aggregate (the reason given in the errors).
struct Grouping {
    /// The engines on which some non-key value aggregates.
    on: Vec<Engine>,
    /// The column of the first aggregate.
    column: String,
    /// The first aggregate's function.
    aggregate: String,
}

impl Grouping {
    /// `None` when no value aggregates on any engine: a row-to-row mapping.
    fn find(parsed: &Parsed, engines: &[Engine]) -> Option<Grouping> {
        let mut on = Vec::new();
        let mut first = None;
        for &engine in engines {
            let aggregate = parsed.value_fields().find_map(|f| {
                f.fragments.iter().find_map(|frag| {
                    let (_, facts) = frag.facts.iter().find(|(e, _)| *e == engine)?;
                    let agg = facts.aggregates.first()?;
                    Some((f.field.column.clone(), agg.clone()))
                })
            });
            if let Some(found) = aggregate {
                on.push(engine);
                first.get_or_insert(found);
            }
        }
        let (column, aggregate) = first?;
        Some(Grouping {
            on,
            column,
            aggregate,
        })
    }

    /// Why the mapping is grouped, for the messages.
    fn reason(&self, keys: &KeyColumns) -> String {
        format!(
            "`{}` aggregates with `{}(...)`, so the source is grouped by the key ({})",
            self.column, self.aggregate, keys.list
        )
    }
}

/// Per-engine expressions that aggregate on some engines only.
fn not_grouped_on_every_engine(cx: &Ctxt, parsed: &Parsed, engines: &[Engine], g: &Grouping) {
    let names = |list: Vec<&Engine>| list.iter().map(|e| e.name()).collect::<Vec<_>>().join(", ");
    let flat = engines.iter().filter(|e| !g.on.contains(e)).collect();
    cx.error_spanned_by(
        parsed.cont.ident,
        Message::new(format!(
            "the mapping aggregates on {} but not on {}",
            names(g.on.iter().collect()),
            names(flat)
        ))
        .note("a backfill is grouped by its key on every engine or on none")
        .help("make the per-engine expressions agree"),
    );
}

/// What the source is grouped by: each key's single column (its expression, or its column
/// when it copies one).
struct KeyColumns {
    refs: Vec<ColumnRef>,
    /// The key columns, for the messages.
    list: String,
}

impl KeyColumns {
    fn of(parsed: &Parsed) -> KeyColumns {
        let refs = parsed
            .key_fields()
            .flat_map(|f| {
                let mut refs: Vec<ColumnRef> = f
                    .fragments
                    .iter()
                    .filter_map(|frag| frag.first().and_then(|x| x.single_column.clone()))
                    .collect();
                if f.fragments.is_empty() {
                    refs.push(ColumnRef {
                        qualifier: Vec::new(),
                        column: f.field.column.clone(),
                    });
                }
                refs
            })
            .collect();
        let list = parsed
            .key_fields()
            .map(|f| f.field.column.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        KeyColumns { refs, list }
    }

    /// `r` is one of the key columns (a qualifier on either side matches the same name).
    fn contains(&self, r: &ColumnRef) -> bool {
        self.refs.iter().any(|k| {
            k.column.eq_ignore_ascii_case(&r.column)
                && (k.qualifier.is_empty()
                    || r.qualifier.is_empty()
                    || names_target(&k.qualifier, &r.qualifier))
        })
    }
}

/// A field without an expression copies the source column of its name: in a grouped mapping
/// that is one of many rows' values, unless the column is a key.
fn copied_column_is_a_key(cx: &Ctxt, field: &ParsedField, keys: &KeyColumns, g: &Grouping) {
    if !field.fragments.is_empty() {
        return;
    }
    let f = field.field;
    let copied = ColumnRef {
        qualifier: Vec::new(),
        column: f.column.clone(),
    };
    if keys.contains(&copied) {
        return;
    }
    cx.error_spanned_by(
        f.ident,
        Message::new(format!(
            "`{}` copies the source column `{}` in a grouped mapping",
            f.ident, f.column
        ))
        .note(g.reason(keys))
        .help(format!(
            "give it an aggregate, e.g. `#[backfill(expr = \"max({})\")]`",
            f.column
        )),
    );
}

/// A column outside every aggregate is one of many rows' values, unless it is a key.
fn expression_is_aggregated(cx: &Ctxt, field: &ParsedField, keys: &KeyColumns, g: &Grouping) {
    for frag in field.fragments.iter().filter(|f| !f.reported.get()) {
        let Some(facts) = frag.first() else { continue };
        let Some(r) = facts.outside_aggregate.iter().find(|r| !keys.contains(r)) else {
            continue;
        };
        let col = r.display();
        let text = frag.lit.value();
        let subject = if text.trim() == col {
            format!("`{col}` is")
        } else {
            format!("{} uses `{col}`", ctxt::shown(&text))
        };
        cx.error_spanned_by(
            frag.lit,
            Message::new(format!(
                "{subject} outside an aggregate in a grouped mapping"
            ))
            .note(format!(
                "{}, and one key has many source rows",
                g.reason(keys)
            ))
            .help(format!(
                "wrap it in an aggregate (e.g. `max({col})`) or make it part of the key"
            )),
        );
    }
}
