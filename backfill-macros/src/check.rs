//! The rules: from the parsed attributes to a validated [`model::Backfill`], or errors, all of
//! them at once. Each rule is a small function named for what it refuses; the SQL facts they
//! decide on come from [`analyze`], never from looking at the text.

use syn::{Data, DeriveInput, Fields, LitStr};

use crate::analyze::{self, ColumnRef, Facts};
use crate::attr::{self, Container, OnConflict};
use crate::ctxt::Ctxt;
use crate::model::{self, Engine, KeyKind, Merge};

/// One SQL fragment the user wrote, parsed for every checked engine.
struct Fragment<'a> {
    lit: &'a LitStr,
    /// Engines it did not parse for (reported already).
    failed: Vec<Engine>,
    /// An idempotence error was reported for it: the grouping rule does not pile on.
    reported: std::cell::Cell<bool>,
    /// The facts per engine that parsed (an engine that did not parse was reported).
    facts: Vec<(Engine, Facts)>,
}

impl Fragment<'_> {
    /// The first engine's facts: the rules below report each mistake once per literal, not
    /// once per dialect.
    fn first(&self) -> Option<&Facts> {
        self.facts.first().map(|(_, f)| f)
    }

    /// The first volatile call any dialect found (per-engine syntax such as SQLite's
    /// `datetime('now')` is seen only by that engine's parse).
    fn volatile_call(&self) -> Option<&String> {
        self.facts.iter().find_map(|(_, f)| f.volatile.first())
    }
}

/// A field, its attributes and its parsed expressions.
struct FieldInfo<'a> {
    attrs: attr::Field,
    column: String,
    /// Parsed `expr` / per-engine expressions; empty when the field copies its column.
    fragments: Vec<Fragment<'a>>,
}

impl FieldInfo<'_> {
    fn is_key(&self) -> bool {
        self.attrs.key.is_some()
    }

    /// `merge = "keep"`: in place, written only where the column is NULL.
    fn keeps(&self) -> bool {
        matches!(self.attrs.merge, Some((Merge::Keep, _)))
    }
}

/// Validates the derive input; `None` when any error was recorded in `cx`.
pub fn derive_input(cx: &Ctxt, input: &DeriveInput) -> Option<model::Backfill> {
    let named = struct_with_named_fields(cx, input)?;
    let container = attr::container(cx, &input.attrs);
    let raw_fields: Vec<attr::Field> = named
        .iter()
        .filter_map(|f| f.ident.as_ref().map(|ident| attr::field(cx, f, ident)))
        .collect();

    let name = input.ident.to_string();
    let (table, from) = required_table_and_from(cx, input, &container);
    batch_size_positive(cx, &container);
    let checked = checked_engines(&container);

    // Parse every fragment once per checked engine.
    let from_fragment = container
        .from
        .as_ref()
        .map(|lit| parse_fragment(cx, lit, "from", &checked, FragmentKind::From));
    let filter_fragment = container
        .filter
        .as_ref()
        .map(|lit| parse_fragment(cx, lit, "filter", &checked, FragmentKind::Expr));
    let fields: Vec<FieldInfo> = raw_fields
        .iter()
        .map(|f| {
            let mut fragments = Vec::new();
            if let Some(lit) = &f.expr {
                let engines: Vec<Engine> = checked
                    .iter()
                    .copied()
                    .filter(|e| f.engine_exprs[e.index()].is_none())
                    .collect();
                if !engines.is_empty() {
                    fragments.push(parse_fragment(
                        cx,
                        lit,
                        "expr",
                        &engines,
                        FragmentKind::Expr,
                    ));
                }
            }
            for engine in Engine::ALL {
                if let Some(lit) = &f.engine_exprs[engine.index()] {
                    if checked.contains(&engine) {
                        fragments.push(parse_fragment(
                            cx,
                            lit,
                            engine.name(),
                            &[engine],
                            FragmentKind::Expr,
                        ));
                    } else {
                        engine_not_checked(cx, lit, engine, &container);
                    }
                }
            }
            FieldInfo {
                column: f.column_name(),
                fragments,
                attrs: clone_field(f),
            }
        })
        .collect();

    let target = table.as_deref().map(table_parts);
    let sources = source_names(from_fragment.as_ref());
    // In place: the target's own rows (no `from`), or existing rows filled from `from`. A
    // struct whose `table` is missing, or whose unknown attribute looked like `from`, already
    // has its error: its fields are not checked as in place on top of it.
    let own_rows = from.is_none() && table.is_some() && !container.suggested.contains(&"from");
    let in_place = own_rows || container.in_place.is_some();
    let written: Vec<String> = fields
        .iter()
        .filter(|f| !f.is_key())
        .map(|f| f.column.clone())
        .collect();
    for field in &fields {
        key_type_is_bindable(cx, field);
        for frag in &field.fragments {
            let mut reported = no_upsert_row_reference(cx, frag, &sources);
            if let Some(target) = &target {
                if own_rows {
                    reported |=
                        no_written_column_in_place(cx, frag, &written, target, &field.column);
                } else {
                    reported |= no_target_qualifier(cx, frag, target, &field.column);
                }
                no_subquery_reading_target(cx, frag, target);
            }
            if !reported {
                reported = no_own_column_in_larger_expression(cx, frag, &field.column);
            }
            frag.reported.set(reported);
            if field.is_key() {
                no_volatile_key(cx, frag, &field.column);
            } else if !(field.attrs.allow_volatile || (in_place && field.keeps())) {
                no_volatile_value(cx, frag, &field.column, in_place);
            }
            no_window_function(cx, frag, &field.column);
            if own_rows && !field.is_key() {
                no_aggregate_in_place(cx, frag);
            }
        }
        if own_rows {
            key_is_the_target_column(cx, field);
            value_has_an_expression(cx, field);
        }
    }
    if in_place {
        no_on_conflict_in_place(cx, &container);
    }
    if let (Some(from), Some(target)) = (&from_fragment, &target) {
        let written: Vec<&str> = fields
            .iter()
            .filter(|f| !f.is_key())
            .map(|f| f.column.as_str())
            .collect();
        let aliases = target_aliases(from, target);
        if !aliases.is_empty() {
            for field in &fields {
                for frag in field.fragments.iter().filter(|f| !f.reported.get()) {
                    let reported =
                        no_written_column_read_from_target(cx, frag, &aliases, &written, target);
                    frag.reported.set(reported);
                }
            }
            if let Some(frag) = &filter_fragment {
                no_written_column_read_from_target(cx, frag, &aliases, &written, target);
            }
        }
    }
    if let Some(frag) = &filter_fragment {
        no_upsert_row_reference(cx, frag, &sources);
        if let Some(target) = &target {
            if own_rows {
                no_written_column_in_place(cx, frag, &written, target, "");
            } else {
                no_target_qualifier(cx, frag, target, "");
            }
            no_subquery_reading_target(cx, frag, target);
        }
        no_volatile_filter(cx, frag, "filter");
        no_aggregate_in_filter(cx, frag);
    }
    if let Some(frag) = &from_fragment {
        no_volatile_filter(cx, frag, "from");
    }

    has_key(cx, input, &fields);
    for field in &fields {
        key_is_not_aggregate(cx, field);
        key_is_not_merged(cx, field);
        merge_needs_update(cx, field, &container);
    }
    column_names_are_plain(cx, &fields);
    no_column_written_twice(cx, &fields);
    let grouped = grouping(cx, input, &fields, &checked);

    if cx.has_errors() {
        return None;
    }
    let table = table?;
    let generated: Vec<Engine> = checked
        .iter()
        .copied()
        .filter(|e| model::feature_enabled(*e))
        .collect();
    Some(model::Backfill {
        name,
        job: container
            .job
            .as_ref()
            .map(LitStr::value)
            .unwrap_or_else(|| table.clone()),
        table,
        from,
        in_place,
        filter: container.filter.as_ref().map(LitStr::value),
        batch_size: container.batch_size.as_ref().map(|(n, _)| *n),
        write_once: matches!(container.on_conflict, Some((OnConflict::Nothing, _))),
        allow_other_unique_keys: container.allow_other_unique_keys,
        grouped,
        engines: generated,
        columns: fields.iter().map(model_column).collect(),
    })
}

fn clone_field(f: &attr::Field) -> attr::Field {
    attr::Field {
        ident: f.ident.clone(),
        ty: f.ty.clone(),
        key: f.key,
        expr: f.expr.clone(),
        engine_exprs: f.engine_exprs.clone(),
        column: f.column.clone(),
        merge: f.merge.clone(),
        allow_volatile: f.allow_volatile,
    }
}

fn model_column(field: &FieldInfo) -> model::Column {
    let f = &field.attrs;
    let exprs = Engine::ALL.map(|e| {
        f.engine_exprs[e.index()]
            .as_ref()
            .or(f.expr.as_ref())
            .map(LitStr::value)
    });
    model::Column {
        field: syn::ext::IdentExt::unraw(&f.ident).to_string(),
        column: field.column.clone(),
        rust_type: type_name(&f.ty),
        key: f.key.map(|_| key_kind(&f.ty).unwrap_or(KeyKind::Int)),
        merge: f.merge.as_ref().map_or(Merge::Overwrite, |(m, _)| *m),
        exprs,
    }
}

/// The type as written, without the token stream's spacing (`Option<i64>`).
pub fn type_name(ty: &syn::Type) -> String {
    let text = quote::quote!(#ty).to_string();
    let mut out = String::new();
    for part in text.split(' ') {
        let glue = out.ends_with(['<', ':', '&', '(', '['])
            || part.starts_with(['<', '>', ':', ',', ')', ']'])
            || out.is_empty();
        if !glue {
            out.push(' ');
        }
        out.push_str(part);
    }
    out
}

#[derive(Clone, Copy)]
enum FragmentKind {
    Expr,
    From,
}

fn parse_fragment<'a>(
    cx: &Ctxt,
    lit: &'a LitStr,
    attr_name: &str,
    engines: &[Engine],
    kind: FragmentKind,
) -> Fragment<'a> {
    let text = lit.value();
    let mut facts = Vec::new();
    let mut failures = Vec::new();
    for &engine in engines {
        let parsed = match kind {
            FragmentKind::Expr => {
                analyze::parse_expr(engine, &text).map(|e| analyze::expr_facts(&e))
            }
            FragmentKind::From => analyze::parse_from(engine, &text).map(|f| analyze::facts(&f)),
        };
        match parsed {
            Ok(f) => facts.push((engine, f)),
            Err(err) => failures.push((engine, err)),
        }
    }
    if !failures.is_empty() {
        let same = failures.iter().all(|(_, err)| *err == failures[0].1);
        let failures: Vec<String> = if same && failures.len() > 1 && failures.len() == engines.len()
        {
            vec![format!("every engine: {}", failures[0].1)]
        } else {
            failures
                .iter()
                .map(|(engine, err)| format!("{}: {err}", engine.display_name()))
                .collect()
        };
        let what = match kind {
            FragmentKind::Expr => "SQL expression",
            FragmentKind::From => "FROM clause",
        };
        let alternative = if matches!(attr_name, "filter" | "from") {
            "or restrict the struct to the engines it is written for with `engines = \"...\"`"
        } else {
            "or give per-engine versions with `postgres = \"...\"`, `mysql = \"...\"`, `sqlite = \"...\"`"
        };
        let failures: Vec<String> = failures
            .iter()
            .map(|f| f.replace("sql parser error: ", ""))
            .collect();
        cx.error_spanned_by(
            lit,
            format!(
                "`{attr_name} = \"{text}\"` does not parse as a {what} ({}); write it in the syntax of every engine it is generated for, {alternative}",
                failures.join("; ")
            ),
        );
    }
    Fragment {
        lit,
        failed: failures.iter().map(|(e, _)| *e).collect(),
        reported: std::cell::Cell::new(false),
        facts,
    }
}

// ---------------------------------------------------------------------------------------------
// Shape and required attributes

/// Enums, unions, tuple and unit structs, and generic structs are refused.
fn struct_with_named_fields<'a>(
    cx: &Ctxt,
    input: &'a DeriveInput,
) -> Option<&'a syn::punctuated::Punctuated<syn::Field, syn::Token![,]>> {
    let name = &input.ident;
    let why = "#[derive(Backfill)] maps a struct's named fields to the target table's columns";
    let fields = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(named) => Some(&named.named),
            Fields::Unnamed(_) => {
                cx.error_spanned_by(
                    name,
                    format!("`{name}` is a tuple struct: {why}; name each field after its column"),
                );
                None
            }
            Fields::Unit => {
                cx.error_spanned_by(name, format!("`{name}` is a unit struct: {why}; add a field per column, the key fields marked `#[backfill(key)]`"));
                None
            }
        },
        Data::Enum(data) => {
            cx.error_spanned_by(
                data.enum_token,
                format!("`{name}` is an enum: {why}; write a struct with one field per column"),
            );
            None
        }
        Data::Union(data) => {
            cx.error_spanned_by(
                data.union_token,
                format!("`{name}` is a union: {why}; write a struct with one field per column"),
            );
            None
        }
    };
    if !input.generics.params.is_empty() {
        cx.error_spanned_by(
            &input.generics,
            format!("`{name}` is generic: a backfill's statements are fixed at compile time, so #[derive(Backfill)] needs a struct without type, lifetime or const parameters"),
        );
        return None;
    }
    fields
}

fn required_table_and_from(
    cx: &Ctxt,
    input: &DeriveInput,
    c: &Container,
) -> (Option<String>, Option<String>) {
    let name = &input.ident;
    if c.table.is_none() && !c.suggested.contains(&"table") {
        cx.error_spanned_by(
            name,
            format!("missing `table` on `{name}`: name the target table the backfill writes, e.g. `#[backfill(table = \"user_stats\", from = \"events\")]`"),
        );
    }
    let table = c.table.as_ref().and_then(|lit| {
        let value = lit.value();
        let parts: Vec<&str> = value.split('.').collect();
        if parts.len() > 2 || !parts.iter().all(|p| is_plain_identifier(p)) {
            cx.error_spanned_by(
                lit,
                format!("`table = \"{value}\"` is not a table name: write `name` or `schema.name`, unquoted and non-empty (the generated SQL quotes it for every engine, so reserved words, mixed case, spaces and quotes are fine)"),
            );
            return None;
        }
        Some(value)
    });
    let from = c.from.as_ref().map(LitStr::value);
    (table, from)
}

/// A name the generated SQL can quote on every engine: any non-empty text without control
/// characters (quotes are doubled when quoted, so `user's "stats"` is a valid table name).
fn is_plain_identifier(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(char::is_control)
}

/// `column = "..."` names one target column.
fn column_names_are_plain(cx: &Ctxt, fields: &[FieldInfo]) {
    for field in fields {
        if let Some(lit) = &field.attrs.column {
            if !is_plain_identifier(&field.column) {
                cx.error_spanned_by(
                    lit,
                    format!("`column = \"{}\"` is not a column name: write the target column unquoted and non-empty (the generated SQL quotes it for every engine, so reserved words such as `order`, mixed case and spaces are fine)", field.column),
                );
            }
        }
    }
}

fn batch_size_positive(cx: &Ctxt, c: &Container) {
    if let Some((0, lit)) = &c.batch_size {
        cx.error_spanned_by(
            lit,
            "`batch_size = 0`: a batch holds at least one key; write a positive number such as `batch_size = 1000`, or leave it out for adaptive sizing",
        );
    }
}

/// The engines the fragments are parsed and checked for: the `engines` attribute, or every
/// engine whose feature is on.
fn checked_engines(c: &Container) -> Vec<Engine> {
    match &c.engines {
        Some((list, _)) => Engine::ALL
            .into_iter()
            .filter(|e| list.contains(e))
            .collect(),
        None => Engine::ALL
            .into_iter()
            .filter(|e| model::feature_enabled(*e))
            .collect(),
    }
}

fn engine_not_checked(cx: &Ctxt, lit: &LitStr, engine: Engine, c: &Container) {
    if let Some((_, engines)) = &c.engines {
        cx.error_spanned_by(
            lit,
            format!(
                "a `{}` expression, but the struct is generated only for `engines = \"{}\"`: add {} to `engines` or remove this expression",
                engine.name(),
                engines.value(),
                engine.name()
            ),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Idempotence: no reference to the value being replaced

fn table_parts(table: &str) -> Vec<String> {
    table.split('.').map(|p| p.trim().to_string()).collect()
}

/// `user_stats` matches `user_stats`, `public.user_stats` and (for target `s.user_stats`) `s.user_stats`.
fn names_target(parts: &[String], target: &[String]) -> bool {
    let n = parts.len().min(target.len());
    n > 0
        && parts[parts.len() - n..]
            .iter()
            .zip(&target[target.len() - n..])
            .all(|(a, b)| a.eq_ignore_ascii_case(b))
}

const ABSOLUTE_HINT: &str = "recompute the absolute value from the source rows instead (e.g. `sum(amount)`, `count(*)`), so a retried batch converges";

fn no_target_qualifier(cx: &Ctxt, frag: &Fragment, target: &[String], column: &str) -> bool {
    let Some(facts) = frag.first() else {
        return false;
    };
    let target_name = target.join(".");
    for r in &facts.qualified {
        if names_target(&r.qualifier, target) {
            let same_name = if column.is_empty() {
                r.column.clone()
            } else {
                column.to_string()
            };
            let advice = if column.is_empty() {
                "filter on source columns only, so every run selects the same source rows"
                    .to_string()
            } else {
                ABSOLUTE_HINT.to_string()
            };
            cx.error_spanned_by(
                frag.lit,
                format!(
                    "`{}` reads the target table `{target_name}`: that is the value being replaced, so a re-run builds on what the previous run wrote and the backfill is not idempotent; {advice}; a source column of the same name is written with the source's alias, e.g. `e.{same_name}`",
                    r.display()
                ),
            );
            return true;
        }
    }
    false
}

fn no_upsert_row_reference(cx: &Ctxt, frag: &Fragment, sources: &[String]) -> bool {
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
                format!(
                    "`{}` refers to {what}, i.e. the target row being written, not the source: the generated upsert already assigns each column its recomputed value, and `expr` is that value itself; {ABSOLUTE_HINT}",
                    r.display()
                ),
            );
            return true;
        }
        if let Some(call) = facts.values_calls.first() {
            cx.error_spanned_by(
                frag.lit,
                format!(
                    "`{call}` is MySQL's reference to the row being inserted, i.e. the target row, not the source: the generated upsert already assigns each column its recomputed value, and `expr` is that value itself; {ABSOLUTE_HINT}"
                ),
            );
            return true;
        }
    }
    false
}

/// The names the top-level `from` gives its sources (aliases, or table names), lowercased.
fn source_names(from: Option<&Fragment>) -> Vec<String> {
    let Some(facts) = from.and_then(Fragment::first) else {
        return Vec::new();
    };
    facts
        .tables
        .iter()
        .filter_map(|(parts, alias)| alias.clone().or_else(|| parts.last().cloned()))
        .map(|name| name.to_ascii_lowercase())
        .collect()
}

/// How the top-level `from` names the target table, when it reads it (a table recomputed in
/// place from its own other columns, or the target joined in).
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

/// With the target in `from`, a column the backfill writes is the value being replaced: reading
/// it (through the target's alias, or unqualified) is a relative update in disguise.
fn no_written_column_read_from_target(
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
        format!(
            "`{read}` reads a column this backfill writes, from the target table `{}` that `from` reads: that is the value being replaced, so a re-run builds on what the previous run wrote and the backfill is not idempotent; {ABSOLUTE_HINT}; read only columns the backfill does not write",
            target.join(".")
        ),
    );
    true
}

/// In place on the target's own rows, a column the backfill writes is the value being
/// replaced: reading it (bare or qualified by the table), its own column included, makes the
/// update relative (`visits = visits + 1`), or makes two fields depend on each other's new value
/// (which MySQL, evaluating a single-table UPDATE left to right, and PostgreSQL answer
/// differently).
fn no_written_column_in_place(
    cx: &Ctxt,
    frag: &Fragment,
    written: &[String],
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
                .map(ColumnRef::display)
        });
    let Some(read) = read else { return false };
    let column = read.rsplit('.').next().unwrap_or(&read);
    let message = if column.eq_ignore_ascii_case(own) {
        format!(
            "`{own} = {}` reads `{read}`, the column it writes: that is the value being replaced, so a retried batch applies the change twice (`{own} = {own} + 1` is not idempotent); compute the new value from the row's other columns, which the backfill does not write",
            frag.lit.value()
        )
    } else if own.is_empty() {
        format!(
            "the filter reads `{read}`, a column this in-place backfill writes: each run would select other rows as it changes them; filter on columns the backfill does not write"
        )
    } else {
        format!(
            "`{own} = {}` reads `{read}`, which another field of this in-place backfill writes: PostgreSQL computes every new value from the old row, MySQL from the values already assigned (left to right), and a retried batch reads its own output; compute each value from columns the backfill does not write",
            frag.lit.value()
        )
    };
    cx.error_spanned_by(frag.lit, message);
    true
}

/// In place on the target's own rows, each key is one row: an aggregate has nothing to
/// aggregate, and the UPDATE cannot hold one.
fn no_aggregate_in_place(cx: &Ctxt, frag: &Fragment) {
    let Some(facts) = frag.first() else { return };
    if let Some(agg) = facts.aggregates.first() {
        cx.error_spanned_by(
            frag.lit,
            format!(
                "`{agg}(...)` aggregates, but an in-place backfill without `from` computes each row from its own columns; to aggregate other tables per key, name them in `from` and add `in_place`, e.g. `from = \"users u LEFT JOIN orders o ON o.user_id = u.id\", in_place`"
            ),
        );
    }
}

/// In place on the target's own rows, the key is the target's own key column.
fn key_is_the_target_column(cx: &Ctxt, field: &FieldInfo) {
    if !field.is_key() {
        return;
    }
    let lit = field
        .attrs
        .expr
        .as_ref()
        .or(field.attrs.engine_exprs.iter().flatten().next());
    if let Some(lit) = lit {
        cx.error_spanned_by(
            lit,
            format!(
                "key `{}` has an expression, but an in-place backfill without `from` ranges over the target's own key column: remove `expr` (name the column with `column = \"...\"` if it differs from the field)",
                field.column
            ),
        );
    }
}

/// In place on the target's own rows, a value field without an expression would copy its
/// column onto itself.
fn value_has_an_expression(cx: &Ctxt, field: &FieldInfo) {
    if field.is_key()
        || field.attrs.expr.is_some()
        || field.attrs.engine_exprs.iter().any(Option::is_some)
    {
        return;
    }
    cx.error_spanned_by(
        &field.attrs.ident,
        format!(
            "field `{}` has no `expr`: an in-place backfill without `from` computes each column from the row's other columns, so write how, e.g. `#[backfill(expr = \"first_name || ' ' || last_name\")]`",
            field.attrs.ident
        ),
    );
}

/// In place, rows are updated, never inserted: `on_conflict` has nothing to choose.
fn no_on_conflict_in_place(cx: &Ctxt, c: &Container) {
    if let Some((_, lit)) = &c.on_conflict {
        cx.error_spanned_by(
            lit,
            "`on_conflict` applies to inserts, and an in-place backfill only updates existing rows: remove it (to write a column only where it is NULL, use `merge = \"keep\"` on that field)",
        );
    }
}

fn no_subquery_reading_target(cx: &Ctxt, frag: &Fragment, target: &[String]) {
    let Some(facts) = frag.first() else { return };
    if facts.relations.iter().any(|r| names_target(r, target)) {
        cx.error_spanned_by(
            frag.lit,
            format!(
                "a subquery reads the target table `{}`: the value being replaced feeds its own recompute, so every re-run drifts further and the backfill is not idempotent; compute it from the source tables only",
                target.join(".")
            ),
        );
    }
}

fn no_own_column_in_larger_expression(cx: &Ctxt, frag: &Fragment, column: &str) -> bool {
    let Some(facts) = frag.first() else {
        return false;
    };
    // `expr = "total_amount"` alone copies the source column of that name: fine.
    if facts
        .single_column
        .as_ref()
        .is_some_and(|c| c.qualifier.is_empty())
    {
        return false;
    }
    if facts
        .unqualified
        .iter()
        .any(|c| c.eq_ignore_ascii_case(column))
    {
        cx.error_spanned_by(
            frag.lit,
            format!(
                "`{}` uses `{column}`, the column this field writes: if it means the stored value, a re-run adds to what the previous run wrote (`{column} = {column} + n` is not idempotent); {ABSOLUTE_HINT}; if it means a source column of the same name, qualify it with the source's alias, e.g. `e.{column}`",
                frag.lit.value()
            ),
        );
        return true;
    }
    false
}

fn no_volatile_value(cx: &Ctxt, frag: &Fragment, column: &str, in_place: bool) {
    let Some(call) = frag.volatile_call() else {
        return;
    };
    let keep = if in_place {
        "; in place, `merge = \"keep\"` writes it only where the column is NULL, once per row (a new id for every existing row)"
    } else {
        ""
    };
    cx.error_spanned_by(
        frag.lit,
        format!(
            "`{call}` is volatile: a retried or repeated batch writes a different `{column}`, so the backfill never converges and verify always finds differences; derive the value from the source rows (e.g. `max(e.created_at)`), or add `allow_volatile` to this field if a new value on every run is intended{keep}"
        ),
    );
}

/// A key is what the upsert conflicts on and what batches are ranges of: it must be the same on
/// every run, whatever `allow_volatile` says.
fn no_volatile_key(cx: &Ctxt, frag: &Fragment, column: &str) {
    let Some(call) = frag.volatile_call() else {
        return;
    };
    cx.error_spanned_by(
        frag.lit,
        format!(
            "key `{column}` uses `{call}`, which changes between runs: the key is what the upsert conflicts on and what batches are ranges of, so every run would insert new rows and no cursor could resume; derive the key from the source (e.g. `e.id`) (`allow_volatile` does not apply to a key)"
        ),
    );
}

/// A window over the source is computed over the rows of one batch.
fn no_window_function(cx: &Ctxt, frag: &Fragment, column: &str) {
    let Some(window) = frag.facts.iter().find_map(|(_, f)| f.windows.first()) else {
        return;
    };
    cx.error_spanned_by(
        frag.lit,
        format!(
            "`{window}(...) OVER (...)` is a window function: it is computed over the source rows of one batch, so `{column}` would change with the batch boundaries and a re-run with another batch size writes other values; use an aggregate grouped by the key (e.g. `count(*)`, `max(e.created_at)`) instead"
        ),
    );
}

fn no_volatile_filter(cx: &Ctxt, frag: &Fragment, attr_name: &str) {
    let Some(call) = frag.volatile_call() else {
        return;
    };
    cx.error_spanned_by(
        frag.lit,
        format!(
            "`{attr_name}` uses `{call}`, which changes between runs: a moving window selects other rows on every batch and re-run, so a resumed backfill and its verify disagree about which rows belong to it; use a fixed bound such as `created_at > '2024-01-01'` (there is no `allow_volatile` for the `{attr_name}`)"
        ),
    );
}

/// The filter is the source's WHERE: an aggregate there fails at run time.
fn no_aggregate_in_filter(cx: &Ctxt, frag: &Fragment) {
    if let Some(agg) = frag.first().and_then(|f| f.aggregates.first()) {
        cx.error_spanned_by(
            frag.lit,
            format!("`filter` uses the aggregate `{agg}(...)`: the filter selects source rows before they are grouped by the key, so it cannot aggregate; filter on row columns (e.g. `e.kind <> 'test'`)"),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Keys

fn has_key(cx: &Ctxt, input: &DeriveInput, fields: &[FieldInfo]) {
    if !fields.is_empty() && !fields.iter().any(FieldInfo::is_key) {
        let name = &input.ident;
        cx.error_spanned_by(
            name,
            format!("`{name}` has no key field: mark the field(s) of the target's primary key or unique index with `#[backfill(key)]`; the upsert conflicts on them and batches are ranges of them"),
        );
    }
}

/// Integers that fit in `i64`, or `String`.
fn key_kind(ty: &syn::Type) -> Option<KeyKind> {
    let syn::Type::Path(p) = ty else { return None };
    if p.qself.is_some() {
        return None;
    }
    let last = p.path.segments.last()?;
    let name = last.ident.to_string();
    if let syn::PathArguments::AngleBracketed(args) = &last.arguments {
        // `Vec<u8>`: a binary key.
        let [syn::GenericArgument::Type(syn::Type::Path(inner))] =
            args.args.iter().collect::<Vec<_>>()[..]
        else {
            return None;
        };
        return (name == "Vec" && inner.qself.is_none() && inner.path.is_ident("u8"))
            .then_some(KeyKind::Bytes);
    }
    if !last.arguments.is_empty() {
        return None;
    }
    match name.as_str() {
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" => Some(KeyKind::Int),
        "u64" => Some(KeyKind::UInt),
        "String" => Some(KeyKind::Text),
        _ => None,
    }
}

fn key_type_is_bindable(cx: &Ctxt, field: &FieldInfo) {
    if field.is_key() && key_kind(&field.attrs.ty).is_none() {
        let ty = &field.attrs.ty;
        cx.error_spanned_by(
            ty,
            format!(
                "key field `{}` has type `{}`: a key must be an integer (i8 to i64, u8 to u64), `String` or `Vec<u8>`, because batch ranges bind key values with their own type and store them in the cursor",
                field.attrs.ident,
                type_name(ty)
            ),
        );
    }
}

fn key_is_not_aggregate(cx: &Ctxt, field: &FieldInfo) {
    if !field.is_key() {
        return;
    }
    for frag in &field.fragments {
        if let Some(agg) = frag.first().and_then(|f| f.aggregates.first()) {
            cx.error_spanned_by(
                frag.lit,
                format!(
                    "key `{}` uses the aggregate `{agg}(...)`: the source is grouped by the key, so a key is a source column or a per-row expression, e.g. `expr = \"e.{}\"`",
                    field.column, field.column
                ),
            );
        }
    }
}

fn key_is_not_merged(cx: &Ctxt, field: &FieldInfo) {
    if let (true, Some((_, lit))) = (field.is_key(), &field.attrs.merge) {
        cx.error_spanned_by(
            lit,
            format!("key `{}` is merged: a key column is what the upsert conflicts on and is never updated; remove `merge`", field.column),
        );
    }
}

fn merge_needs_update(cx: &Ctxt, field: &FieldInfo, c: &Container) {
    if let (Some((OnConflict::Nothing, _)), Some((_, lit))) = (&c.on_conflict, &field.attrs.merge) {
        cx.error_spanned_by(
            lit,
            format!("`merge` on `{}` has no effect with `on_conflict = \"nothing\"`, which never updates a stored row; remove one of them", field.column),
        );
    }
}

fn no_column_written_twice(cx: &Ctxt, fields: &[FieldInfo]) {
    for (i, field) in fields.iter().enumerate() {
        if let Some(first) = fields[..i]
            .iter()
            .find(|f| f.column.eq_ignore_ascii_case(&field.column))
        {
            let spanned = field
                .attrs
                .column
                .as_ref()
                .map(quote::ToTokens::to_token_stream)
                .unwrap_or_else(|| quote::ToTokens::to_token_stream(&field.attrs.ident));
            cx.error_spanned_by(
                spanned,
                format!(
                    "fields `{}` and `{}` both write column `{}`: map each target column once (rename one with `column = \"...\"`)",
                    first.attrs.ident, field.attrs.ident, field.column
                ),
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Grouping

/// Whether the mapping is grouped (any non-key value aggregates); in a grouped mapping every
/// non-key column must be aggregated or be a key expression.
fn grouping(cx: &Ctxt, input: &DeriveInput, fields: &[FieldInfo], engines: &[Engine]) -> bool {
    // Without a key there is nothing to group by; that error is reported on its own.
    if !fields.iter().any(FieldInfo::is_key) {
        return false;
    }
    // An engine some fragment did not parse for was reported already and has no facts.
    let engines: Vec<Engine> = engines
        .iter()
        .copied()
        .filter(|e| {
            !fields
                .iter()
                .any(|f| f.fragments.iter().any(|x| x.failed.contains(e)))
        })
        .collect();
    let mut grouped_on = Vec::new();
    let mut first_aggregate: Option<(String, String)> = None;
    for &engine in &engines {
        let aggregate = fields.iter().filter(|f| !f.is_key()).find_map(|f| {
            f.fragments.iter().find_map(|frag| {
                frag.facts
                    .iter()
                    .find(|(e, _)| *e == engine)
                    .and_then(|(_, facts)| facts.aggregates.first())
                    .map(|agg| (f.column.clone(), agg.clone()))
            })
        });
        if let Some(a) = aggregate {
            grouped_on.push(engine);
            first_aggregate.get_or_insert(a);
        }
    }
    let Some((agg_column, agg)) = first_aggregate else {
        return false;
    };
    if grouped_on.len() != engines.len() {
        let flat: Vec<&str> = engines
            .iter()
            .filter(|e| !grouped_on.contains(e))
            .map(|e| e.name())
            .collect();
        cx.error_spanned_by(
            &input.ident,
            format!(
                "the mapping aggregates on {} but not on {}: a backfill is grouped by its key on every engine or on none; make the per-engine expressions agree",
                grouped_on.iter().map(|e| e.name()).collect::<Vec<_>>().join(", "),
                flat.join(", ")
            ),
        );
        return true;
    }

    let key_refs: Vec<ColumnRef> = fields
        .iter()
        .filter(|f| f.is_key())
        .flat_map(|f| {
            let mut refs: Vec<ColumnRef> = f
                .fragments
                .iter()
                .filter_map(|frag| frag.first().and_then(|x| x.single_column.clone()))
                .collect();
            if f.fragments.is_empty() {
                refs.push(ColumnRef {
                    qualifier: Vec::new(),
                    column: f.column.clone(),
                });
            }
            refs
        })
        .collect();
    let key_list = fields
        .iter()
        .filter(|f| f.is_key())
        .map(|f| f.column.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let is_key_column = |r: &ColumnRef| {
        key_refs.iter().any(|k| {
            k.column.eq_ignore_ascii_case(&r.column)
                && (k.qualifier.is_empty()
                    || r.qualifier.is_empty()
                    || names_target(&k.qualifier, &r.qualifier))
        })
    };
    let reason = format!("`{agg_column}` aggregates with `{agg}(...)`");
    for field in fields.iter().filter(|f| !f.is_key()) {
        if field.fragments.is_empty() {
            let r = ColumnRef {
                qualifier: Vec::new(),
                column: field.column.clone(),
            };
            if !is_key_column(&r) {
                cx.error_spanned_by(
                    &field.attrs.ident,
                    format!(
                        "`{}` copies the source column `{}`, but the mapping is grouped by the key ({key_list}) because {reason}: give it an aggregate, e.g. `#[backfill(expr = \"max({})\")]`",
                        field.attrs.ident, field.column, field.column
                    ),
                );
            }
            continue;
        }
        for frag in field.fragments.iter().filter(|f| !f.reported.get()) {
            let Some(facts) = frag.first() else { continue };
            if let Some(r) = facts.outside_aggregate.iter().find(|r| !is_key_column(r)) {
                let col = r.display();
                let text = frag.lit.value();
                let subject = if text.trim() == col {
                    format!("`{col}` is")
                } else {
                    format!("`{text}` uses `{col}`")
                };
                cx.error_spanned_by(
                    frag.lit,
                    format!(
                        "{subject} outside an aggregate, but the mapping is grouped by the key ({key_list}) because {reason}: one key has many source rows, so wrap it in an aggregate (e.g. `max({col})`) or make it part of the key"
                    ),
                );
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(input: DeriveInput) -> Vec<String> {
        let cx = Ctxt::new();
        let model = derive_input(&cx, &input);
        match cx.check() {
            Ok(()) => {
                assert!(model.is_some());
                Vec::new()
            }
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn aggregate_mapping_is_valid_and_grouped() {
        let input: DeriveInput = syn::parse_quote! {
            #[backfill(table = "user_stats", from = "events e", filter = "e.kind <> 'user_stats.x'")]
            struct UserStats {
                #[backfill(key, expr = "e.user_id")] user_id: i64,
                #[backfill(expr = "count(*)")] event_count: i64,
                #[backfill(expr = "sum(e.total_amount)")] total_amount: i64,
                #[backfill(expr = "'now()'")] note: String,
            }
        };
        let cx = Ctxt::new();
        let model = derive_input(&cx, &input);
        cx.check().unwrap();
        let model = model.unwrap();
        assert!(model.grouped);
        assert_eq!(model.job, "user_stats");
        assert_eq!(model.columns[0].key, Some(KeyKind::Int));
    }

    #[test]
    fn every_mistake_is_reported_at_once() {
        let errs = errors(syn::parse_quote! {
            #[backfill(table = "s.user_stats", from = "events", batch_size = 0, filter = "created_at > now() - interval '1 day'")]
            struct UserStats {
                #[backfill(key, expr = "max(user_id)")] user_id: i64,
                #[backfill(expr = "total_amount + amount")] total_amount: i64,
                #[backfill(expr = "user_stats.event_count + 1")] event_count: i64,
                #[backfill(expr = "random()")] salt: f64,
                #[backfill(expr = "(SELECT max(x) FROM s.user_stats)")] y: i64,
                #[backfill(column = "salt")] other: i64,
            }
        });
        let all = errs.join("\n");
        for needle in [
            "`batch_size = 0`",
            "key `user_id` uses the aggregate `max(...)`",
            "`total_amount + amount` uses `total_amount`, the column this field writes",
            "`user_stats.event_count` reads the target table `s.user_stats`",
            "`random()` is volatile",
            "a subquery reads the target table `s.user_stats`",
            "`filter` uses `now()`",
            "fields `salt` and `other` both write column `salt`",
        ] {
            assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
        }
    }

    #[test]
    fn a_bare_copy_of_the_own_column_is_fine_and_volatile_can_be_allowed() {
        assert!(errors(syn::parse_quote! {
            #[backfill(table = "t", from = "s")]
            struct T {
                #[backfill(key)] id: i64,
                #[backfill(expr = "total_amount")] total_amount: i64,
                #[backfill(expr = "now()", allow_volatile)] seen: String,
            }
        })
        .is_empty());
    }

    #[test]
    fn grouped_mapping_refuses_bare_columns() {
        let errs = errors(syn::parse_quote! {
            #[backfill(table = "t", from = "events e")]
            struct T {
                #[backfill(key, expr = "e.user_id")] user_id: i64,
                #[backfill(expr = "sum(e.amount)")] total: i64,
                #[backfill(expr = "e.kind")] kind: String,
                #[backfill(expr = "e.user_id * 2")] twice: i64,
                region: String,
            }
        });
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(
            errs[0].contains("`e.kind` is outside an aggregate"),
            "{errs:?}"
        );
        assert!(
            errs[1].contains("`region` copies the source column `region`"),
            "{errs:?}"
        );
    }

    #[test]
    fn upsert_row_references_and_shapes() {
        let errs = errors(syn::parse_quote! {
            #[backfill(table = "t", from = "s", engines = "mysql")]
            struct T {
                #[backfill(key)] id: f64,
                #[backfill(expr = "EXCLUDED.a")] a: i64,
                #[backfill(expr = "new.b + 1")] b: i64,
                #[backfill(expr = "VALUES(c)")] c: i64,
            }
        });
        assert_eq!(errs.len(), 4, "{errs:?}");
        assert!(
            errs[0].contains("key field `id` has type `f64`"),
            "{errs:?}"
        );
        assert!(errs[1].contains("EXCLUDED row"), "{errs:?}");
        assert!(errs[2].contains("inserted-row alias `new`"), "{errs:?}");
        assert!(errs[3].contains("`VALUES(c)`"), "{errs:?}");

        let errs = errors(syn::parse_quote! { enum E { A } });
        assert!(errs[0].contains("is an enum"), "{errs:?}");
        let errs = errors(syn::parse_quote! { #[backfill(table = "t")] struct G<T> { a: T } });
        assert!(errs[0].contains("is generic"), "{errs:?}");
        // No `from` is an in-place backfill, not a mistake: the table and the key are missing.
        let errs = errors(syn::parse_quote! { struct N { a: i64 } });
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs[0].starts_with("missing `table` on `N`"), "{errs:?}");
        assert!(errs[1].contains("has no key field"), "{errs:?}");
    }

    #[test]
    fn near_misses_of_the_rules_are_accepted() {
        // A source in another schema with the target's table name is not the target.
        let errs = errors(syn::parse_quote! {
            #[backfill(table = "analytics.user_stats", from = "archive.user_stats a")]
            struct A {
                #[backfill(key, expr = "a.user_id")] user_id: i64,
                #[backfill(expr = "a.total")] total: i64,
            }
        });
        assert!(errs.is_empty(), "{errs:?}");
        // A source alias named `new` (or `excluded`) is the source, not the inserted row.
        let errs = errors(syn::parse_quote! {
            #[backfill(table = "t", from = "users new")]
            struct B {
                #[backfill(key, expr = "new.id")] id: i64,
                #[backfill(expr = "new.total")] total: i64,
            }
        });
        assert!(errs.is_empty(), "{errs:?}");
        // The string 'now' as text is a constant; as a timestamp it is the clock.
        let errs = errors(syn::parse_quote! {
            #[backfill(table = "t", from = "s", engines = "postgres")]
            struct C {
                #[backfill(key)] id: i64,
                #[backfill(expr = "CAST('now' AS TEXT)")] label: String,
            }
        });
        assert!(errs.is_empty(), "{errs:?}");
        let errs = errors(syn::parse_quote! {
            #[backfill(table = "t", from = "s", engines = "postgres")]
            struct D {
                #[backfill(key)] id: i64,
                #[backfill(expr = "CAST('today' AS DATE)")] day: String,
            }
        });
        assert_eq!(errs.len(), 1, "{errs:?}");
        // MySQL's RAND seeded from the row is a function of the row; RAND(42) is not.
        let errs = errors(syn::parse_quote! {
            #[backfill(table = "t", from = "users u", engines = "mysql")]
            struct E {
                #[backfill(key, expr = "u.id")] id: i64,
                #[backfill(expr = "RAND(u.id)")] sample: f64,
            }
        });
        assert!(errs.is_empty(), "{errs:?}");
        let errs = errors(syn::parse_quote! {
            #[backfill(table = "t", from = "users u", engines = "mysql")]
            struct F {
                #[backfill(key, expr = "u.id")] id: i64,
                #[backfill(expr = "RAND(42)")] sample: f64,
            }
        });
        assert_eq!(errs.len(), 1, "{errs:?}");
    }

    #[test]
    fn target_joined_in_from_cannot_feed_written_columns() {
        let errs = errors(syn::parse_quote! {
            #[backfill(table = "user_stats", from = "events e JOIN user_stats s ON s.user_id = e.user_id")]
            struct T {
                #[backfill(key, expr = "e.user_id")] user_id: i64,
                #[backfill(expr = "max(s.total) + sum(e.amount)")] total: i64,
                #[backfill(expr = "max(s.region)")] region2: String,
            }
        });
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].starts_with("`s.total` reads a column this backfill writes"),
            "{errs:?}"
        );
        // Recomputed in place from the table's other columns: fine.
        assert!(errors(syn::parse_quote! {
            #[backfill(table = "users", from = "users")]
            struct U {
                #[backfill(key)] id: i64,
                #[backfill(expr = "lower(email)")] email_lower: String,
            }
        })
        .is_empty());
    }

    #[test]
    fn filter_cannot_aggregate() {
        let errs = errors(syn::parse_quote! {
            #[backfill(table = "t", from = "events e", filter = "count(*) > 1")]
            struct T {
                #[backfill(key, expr = "e.user_id")] user_id: i64,
                #[backfill(expr = "count(*)")] n: i64,
            }
        });
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].starts_with("`filter` uses the aggregate `count(...)`"),
            "{errs:?}"
        );
    }

    #[test]
    fn type_names_read_like_rust() {
        let ty: syn::Type = syn::parse_quote!(Option<std::collections::HashMap<String, Vec<u8>>>);
        assert_eq!(
            type_name(&ty),
            "Option<std::collections::HashMap<String, Vec<u8>>>"
        );
        let ty: syn::Type = syn::parse_quote!(&'static str);
        assert_eq!(type_name(&ty), "&'static str");
    }
}
