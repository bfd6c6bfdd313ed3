//! Determinism: a value, a key, the filter and the source read nothing that changes between
//! runs (`now()`, `random()`, `uuid()`, `nextval()`, `'now'` read as a date, ...), or a
//! re-run writes other values and verify never comes out clean. A value field may opt out with
//! `allow_volatile` (in place, `merge = "keep"` writes it once per row); a key, the filter and
//! `from` may not. Variables (`@@timestamp`, `@n := @n + 1`) are refused whatever the
//! attributes say.

use super::fragment::{Fragment, Parsed};
use crate::ctxt::{Ctxt, Message};
use crate::model::Engine;

/// A key is what the upsert conflicts on and what batches are ranges of: it must be the same on
/// every run, whatever `allow_volatile` says.
pub fn no_volatile_key(cx: &Ctxt, parsed: &Parsed) {
    for field in parsed.key_fields() {
        let column = &field.field.column;
        for (frag, call) in field.fragments.iter().filter_map(volatile) {
            cx.error_spanned_by(
                frag.lit,
                Message::new(format!("key `{column}` uses `{call}`, which changes between runs"))
                    .note("the key is what the upsert conflicts on and what batches are ranges of, so every run would insert new rows and no cursor could resume")
                    .help("derive the key from the source (e.g. `e.id`); `allow_volatile` does not apply to a key"),
            );
        }
    }
}

/// A value field without `allow_volatile` (or, in place, `merge = "keep"`).
pub fn no_volatile_value(cx: &Ctxt, parsed: &Parsed) {
    let in_place = parsed.cont.in_place();
    for field in parsed.value_fields() {
        let f = field.field;
        if f.attrs.allow_volatile || (in_place && f.keeps()) {
            continue;
        }
        for (frag, call) in field.fragments.iter().filter_map(volatile) {
            let mut message = Message::new(format!(
                "`{call}` is volatile: each run writes a different `{}`",
                f.column
            ))
            .note("a retried or repeated batch writes another value, so the backfill never converges and verify always finds differences")
            .help("derive the value from the source rows (e.g. `max(e.created_at)`)")
            .help("or add `allow_volatile` to this field if a new value on every run is intended");
            if in_place {
                message = message.help("in place, `merge = \"keep\"` writes it only where the column is NULL, once per row (a new id for every existing row)");
            }
            cx.error_spanned_by(frag.lit, message);
        }
    }
}

/// A moving window in `filter` or `from`: there is no `allow_volatile` for them.
pub fn no_volatile_filter(cx: &Ctxt, parsed: &Parsed) {
    for (attr_name, frag) in [("filter", &parsed.filter), ("from", &parsed.from)] {
        let Some((frag, call)) = frag.as_ref().and_then(volatile) else {
            continue;
        };
        cx.error_spanned_by(
            frag.lit,
            Message::new(format!("`{attr_name}` uses `{call}`, which changes between runs"))
                .note("a moving window selects other rows on every batch and re-run, so a resumed backfill and its verify disagree about which rows belong to it")
                .help(format!("use a fixed bound such as `created_at > '2024-01-01'` (there is no `allow_volatile` for the `{attr_name}`)")),
        );
    }
}

/// A system or user variable anywhere (`@@timestamp`, `@n := @n + 1`, SQLite's `@x`): what the
/// session set, not the row. Refused outright: `allow_volatile` accepts a value that changes
/// between runs, not one assigned as a side effect in whatever order the rows come.
pub fn no_variable(cx: &Ctxt, parsed: &Parsed) {
    let fields = parsed.field_fragments().map(|(_, frag)| frag);
    for frag in fields.chain(&parsed.filter).chain(&parsed.from) {
        let Some(variable) = frag.facts.iter().find_map(|(_, f)| f.variables.first()) else {
            continue;
        };
        cx.error_spanned_by(
            frag.lit,
            Message::new(format!("`{variable}` is a variable, not a value of the source rows"))
                .note("a variable holds whatever the session set (SQLite reads `@x` as a parameter, never bound), and `@n := @n + 1` counts rows in the order they come, so a re-run writes other values")
                .help("derive it from the source rows (e.g. a source column or the key); `allow_volatile` does not apply to variables"),
        );
        frag.reported.set(true);
    }
}

/// The fragment with its first volatile call, if it has one.
fn volatile<'f, 'a>(frag: &'f Fragment<'a>) -> Option<(&'f Fragment<'a>, &'f String)> {
    frag.volatile_call().map(|call| (frag, call))
}

/// A function the dialect's allowlist does not hold and the struct or field does not declare
/// `deterministic`: it may read the clock, a sequence, the session or a table, so the derive
/// cannot show that a re-run writes the same values. A value field with `allow_volatile` (in
/// place, `merge = "keep"`) accepts it, as it accepts `now()`.
pub fn no_unknown_function(cx: &Ctxt, parsed: &Parsed) {
    let declared = &parsed.cont.attrs.deterministic;
    let in_place = parsed.cont.in_place();
    for field in &parsed.fields {
        let f = field.field;
        let exempt = !f.is_key() && (f.attrs.allow_volatile || (in_place && f.keeps()));
        if exempt {
            continue;
        }
        for frag in &field.fragments {
            let declared = |name: &str| {
                declared
                    .iter()
                    .chain(&f.attrs.deterministic)
                    .any(|d| d == name)
            };
            if let Some((engine, name)) = unknown(frag, declared) {
                let mut message = unknown_message(engine, name, "this field or the struct");
                if !f.is_key() {
                    message = message.help("or add `allow_volatile` to this field if a new value on every run is intended");
                }
                cx.error_spanned_by(frag.lit, message);
                frag.reported.set(true);
            }
        }
    }
    for frag in [&parsed.filter, &parsed.from].into_iter().flatten() {
        let declared = |name: &str| declared.iter().any(|d| d == name);
        if let Some((engine, name)) = unknown(frag, declared) {
            cx.error_spanned_by(frag.lit, unknown_message(engine, name, "the struct"));
            frag.reported.set(true);
        }
    }
}

/// The first call of `frag`, on any engine it is generated for, that is neither allowed nor
/// declared.
fn unknown<'f>(frag: &'f Fragment, declared: impl Fn(&str) -> bool) -> Option<(Engine, &'f str)> {
    frag.facts.iter().find_map(|(engine, facts)| {
        facts
            .unknown_functions
            .iter()
            .find(|name| !declared(name))
            .map(|name| (*engine, name.as_str()))
    })
}

fn unknown_message(engine: Engine, name: &str, declare_on: &str) -> Message {
    let dialect = engine.display_name();
    if name.starts_with("OPERATOR(")
        || !name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
    {
        return Message::new(format!("`{name}` is a user-defined operator: the derive cannot show it deterministic"))
            .note("an operator calls a function of its own, which may read the clock, a sequence or a table")
            .help("call the operator's function instead and declare it with `deterministic = \"...\"` if it is IMMUTABLE");
    }
    let elsewhere: Vec<&str> = Engine::ALL
        .into_iter()
        .filter(|&e| e != engine && backfill_core::allowlist::is_deterministic(e, name))
        .map(Engine::display_name)
        .collect();
    if !elsewhere.is_empty() {
        return Message::new(format!("`{name}()` is a {} function, not one of {dialect}", elsewhere.join(" and ")))
            .note(format!("this fragment is generated for {dialect} too, where the derive does not know `{name}` as deterministic (or at all)"))
            .help(if declare_on == "the struct" {
                "restrict the struct to the engines it is written for with `engines = \"...\"`".to_string()
            } else {
                format!("give {dialect} its own version (`{} = \"...\"` on the field), or restrict the struct with `engines = \"...\"`", engine.name())
            })
            .help(format!("if {dialect} has a deterministic `{name}`, declare it: `deterministic = \"{name}\"` on {declare_on}"));
    }
    Message::new(format!("`{name}()` is not known to be deterministic on {dialect}"))
        .note("the derive accepts the built-ins it knows return the same value for the same arguments (the README lists them); any other function may read the clock, a sequence or a table, and a re-run would write other values")
        .help(format!("if `{name}` is deterministic ({}), declare it: `deterministic = \"{name}\"` on {declare_on}", match engine {
            Engine::Postgres => "IMMUTABLE",
            Engine::MySql => "DETERMINISTIC, reading no table",
            Engine::Sqlite => "registered SQLITE_DETERMINISTIC",
        }))
}
