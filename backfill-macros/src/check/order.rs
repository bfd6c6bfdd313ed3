//! Order-independence: nothing depends on the order rows arrive in, which no engine promises
//! and which changes with plans, batches and parallel workers. An order-sensitive aggregate
//! (`group_concat`, `string_agg`, `array_agg`, `json_agg`, ...) needs an ORDER BY over every
//! value it aggregates; `ANY_VALUE` and `TABLESAMPLE` are refused; `LIMIT`, `OFFSET`, `FETCH` or
//! `DISTINCT ON` need an ORDER BY over every column they select. An ORDER BY that ends in a
//! unique column is total too, but without the schema the check cannot know which columns are
//! unique, so it asks for what it can see: rows the ORDER BY leaves tied carry the same values.
//! A value field may opt out with `allow_volatile`, as for a volatile call; a key, the filter
//! and `from` may not.

use super::facts::OrderDependence;
use super::fragment::{Fragment, Parsed};
use crate::ctxt::{Ctxt, Message};

/// Why an order-dependent result is refused.
const WHY: &str = "no engine promises an order without ORDER BY: a retried batch or a re-run can see the rows in another order and write another value, and verify finds differences";

/// A value field without `allow_volatile` (or, in place, `merge = "keep"`), and every key.
pub fn no_order_dependent_value(cx: &Ctxt, parsed: &Parsed) {
    let in_place = parsed.cont.in_place();
    for field in &parsed.fields {
        let f = field.field;
        if !f.is_key() && (f.attrs.allow_volatile || (in_place && f.keeps())) {
            continue;
        }
        for frag in &field.fragments {
            let mut message = order_dependent(frag);
            message = message.map(|m| if f.is_key() {
                m.help("`allow_volatile` does not apply to a key: it is what the upsert conflicts on")
            } else {
                m.help("or add `allow_volatile` to this field if a value that may change between runs is intended")
            });
            if let Some(message) = message {
                cx.error_spanned_by(frag.lit, message);
            }
        }
    }
}

/// `filter` and `from`: they select the rows, and there is no `allow_volatile` for them.
pub fn no_order_dependent_rows(cx: &Ctxt, parsed: &Parsed) {
    for frag in parsed.filter.iter().chain(&parsed.from) {
        if let Some(message) = order_dependent(frag) {
            cx.error_spanned_by(frag.lit, message);
        }
    }
}

/// The error of the fragment's first dependence on row order, if it has one.
fn order_dependent(frag: &Fragment) -> Option<Message> {
    use OrderDependence::*;
    let message = match frag.order_dependence()? {
        UnorderedAggregate(name) => Message::new(format!("`{name}(...)` has no ORDER BY: its result depends on row order"))
            .note(WHY)
            .help(format!("order it by what it aggregates, e.g. {}", ordered_example(name))),
        AggregateTie(name, column) => Message::new(format!("`{name}(...)` is not ordered by `{column}`, which it aggregates"))
            .note(format!("rows that tie on its ORDER BY can come in either order with different `{column}`, so a re-run can write another value"))
            .help(format!("add `{column}` as the last ORDER BY item, so rows left tied are equal")),
        AnyValue => Message::new("`any_value(...)` returns the value of any row")
            .note("which row is not defined, and a re-run may pick another")
            .help("use `min(...)` or `max(...)`, which pick the same value on every run"),
        UnorderedPick(clause) => Message::new(format!("`{clause}` picks rows without an ORDER BY"))
            .note(WHY)
            .help("add an ORDER BY over every column it selects, e.g. `ORDER BY created_at DESC, id, amount`"),
        PickTie(clause, column) if column == "*" => Message::new(format!("`{clause}` over a select list the check cannot see (`*`)"))
            .note("rows that tie on the ORDER BY may differ in any column, so a re-run may pick other rows")
            .help("select the columns it uses instead of `*`, and order by every one of them"),
        PickTie(clause, column) => Message::new(format!("`{clause}`: the ORDER BY does not include `{column}`, which it selects"))
            .note(format!("rows that tie on the ORDER BY can differ in `{column}`, so a re-run may pick another row"))
            .help(format!("add `{column}` as the last ORDER BY item, so rows left tied are equal")),
        Sample => Message::new("`TABLESAMPLE` reads a random sample of the rows")
            .note("each run samples other rows")
            .help("select the rows with a fixed condition instead, e.g. `filter = \"e.id % 10 = 0\"`"),
    };
    Some(message)
}

/// The aggregate written with an ORDER BY, in the syntax of the engines that have it.
fn ordered_example(name: &str) -> String {
    match name {
        "group_concat" => "`group_concat(t.name ORDER BY t.name SEPARATOR ',')` (MySQL), `group_concat(t.name, ',' ORDER BY t.name)` (SQLite)".to_string(),
        "string_agg" | "listagg" => format!("`{name}(t.name, ',' ORDER BY t.name)`"),
        _ => format!("`{name}(t.name ORDER BY t.name)`"),
    }
}
