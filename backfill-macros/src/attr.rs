//! `#[backfill(...)]` attributes to a typed model with spans. Duplicates, unknown keys (with
//! the list of known ones and a near-miss suggestion) and attempts at a relative update are
//! refused here; the idempotence rules are applied later, in `check`.

use proc_macro2::Span;
use quote::ToTokens;
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{Attribute, Ident, LitInt, LitStr, Token};

use crate::ctxt::Ctxt;
use crate::model::{Engine, Merge};

/// Keys accepted on the struct.
pub const STRUCT_KEYS: &[&str] = &[
    "table",
    "from",
    "filter",
    "batch_size",
    "job",
    "on_conflict",
    "allow_other_unique_keys",
    "engines",
    "in_place",
];

/// Keys accepted on a field.
pub const FIELD_KEYS: &[&str] = &[
    "key",
    "expr",
    "postgres",
    "mysql",
    "sqlite",
    "column",
    "merge",
    "allow_volatile",
];

/// Names people reach for when they want `col = col + n`; none of them exists, and the error
/// explains why instead of a bare "unknown attribute".
const RELATIVE_UPDATE_KEYS: &[&str] = &[
    "update",
    "on_update",
    "update_expr",
    "increment",
    "incr",
    "inc",
    "decrement",
    "decr",
    "dec",
    "op",
    "operator",
    "set",
    "add",
    "plus",
    "sub",
    "subtract",
    "minus",
    "append",
    "accumulate",
    "delta",
    "relative",
];

/// `on_conflict = "update"` (the default) or `"nothing"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnConflict {
    /// Overwrite (or merge) the stored row.
    Update,
    /// Write-once: never touch an existing row.
    Nothing,
}

/// The struct's `#[backfill(...)]` attributes.
pub struct Container {
    /// `table = "..."`.
    pub table: Option<LitStr>,
    /// `from = "..."`.
    pub from: Option<LitStr>,
    /// `filter = "..."`.
    pub filter: Option<LitStr>,
    /// `batch_size = N`, parsed, with its literal.
    pub batch_size: Option<(u64, LitInt)>,
    /// `job = "..."`.
    pub job: Option<LitStr>,
    /// `on_conflict = "..."`.
    pub on_conflict: Option<(OnConflict, LitStr)>,
    /// `allow_other_unique_keys`.
    pub allow_other_unique_keys: bool,
    /// `engines = "postgres, mysql"`, parsed, with its literal.
    pub engines: Option<(Vec<Engine>, LitStr)>,
    /// `in_place`: update existing target rows from `from`, never insert.
    pub in_place: Option<Span>,
    /// Attributes suggested for unknown keys (`tabel` -> `table`): a missing `table` is then
    /// not reported again.
    pub suggested: Vec<&'static str>,
}

/// One field's `#[backfill(...)]` attributes.
pub struct Field {
    /// The field's name.
    pub ident: Ident,
    /// The field's type.
    pub ty: syn::Type,
    /// `key`, with its span.
    pub key: Option<Span>,
    /// `expr = "..."`.
    pub expr: Option<LitStr>,
    /// `postgres = "..."`, `mysql = "..."`, `sqlite = "..."` (indexed by `Engine::index`).
    pub engine_exprs: [Option<LitStr>; 3],
    /// `column = "..."`.
    pub column: Option<LitStr>,
    /// `merge = "..."`, parsed, with its literal.
    pub merge: Option<(Merge, LitStr)>,
    /// `allow_volatile`.
    pub allow_volatile: bool,
}

impl Field {
    /// The target column: `column = "..."` or the field name.
    pub fn column_name(&self) -> String {
        match &self.column {
            Some(lit) => lit.value(),
            None => syn::ext::IdentExt::unraw(&self.ident).to_string(),
        }
    }
}

/// One attribute value, refused when given twice.
struct Attr<'c, T> {
    cx: &'c Ctxt,
    name: &'static str,
    value: Option<T>,
}

impl<'c, T> Attr<'c, T> {
    fn none(cx: &'c Ctxt, name: &'static str) -> Self {
        Attr {
            cx,
            name,
            value: None,
        }
    }

    fn set<S: ToTokens>(&mut self, spanned: S, value: T) {
        if self.value.is_some() {
            self.cx.error_spanned_by(
                spanned,
                format!("duplicate backfill attribute `{}`: give it once", self.name),
            );
        } else {
            self.value = Some(value);
        }
    }

    fn get(self) -> Option<T> {
        self.value
    }
}

/// Parses the struct's attributes.
pub fn container(cx: &Ctxt, attrs: &[Attribute]) -> Container {
    let mut table = Attr::none(cx, "table");
    let mut from = Attr::none(cx, "from");
    let mut filter = Attr::none(cx, "filter");
    let mut batch_size = Attr::none(cx, "batch_size");
    let mut job = Attr::none(cx, "job");
    let mut on_conflict = Attr::none(cx, "on_conflict");
    let mut allow_other = Attr::none(cx, "allow_other_unique_keys");
    let mut engines = Attr::none(cx, "engines");
    let mut in_place = Attr::none(cx, "in_place");
    let mut suggested = Vec::new();

    for attr in backfill_attrs(attrs) {
        let result = attr.parse_nested_meta(|meta| {
            let name = path_name(&meta);
            match name.as_str() {
                "table" => {
                    let lit = string_value(&meta)?;
                    table.set(&meta.path, lit);
                }
                "from" => {
                    let lit = string_value(&meta)?;
                    from.set(&meta.path, lit);
                }
                "filter" => {
                    let lit = string_value(&meta)?;
                    filter.set(&meta.path, lit);
                }
                "job" => {
                    let lit = string_value(&meta)?;
                    if lit.value().trim().is_empty() {
                        cx.error_spanned_by(&lit, "`job` is empty: name the job, e.g. `job = \"user_stats_v2\"`, or leave it out to use the table name");
                    }
                    job.set(&meta.path, lit);
                }
                "batch_size" => {
                    if let Some(parsed) = batch_size_value(cx, &meta)? {
                        batch_size.set(&meta.path, parsed);
                    }
                }
                "on_conflict" => {
                    let lit = string_value(&meta)?;
                    match lit.value().as_str() {
                        "update" => on_conflict.set(&meta.path, (OnConflict::Update, lit)),
                        "nothing" => on_conflict.set(&meta.path, (OnConflict::Nothing, lit)),
                        other => cx.error_spanned_by(
                            &lit,
                            format!("unknown on_conflict `{other}`: write `on_conflict = \"update\"` (the default: recompute the row) or `on_conflict = \"nothing\"` (write-once rows, never updated)"),
                        ),
                    }
                }
                "allow_other_unique_keys" => {
                    flag(&meta)?;
                    allow_other.set(&meta.path, ());
                }
                "engines" => {
                    let lit = string_value(&meta)?;
                    if let Some(list) = parse_engines(cx, &lit) {
                        engines.set(&meta.path, (list, lit));
                    }
                }
                "in_place" => {
                    flag(&meta)?;
                    in_place.set(&meta.path, meta.path.span());
                }
                _ => {
                    if FIELD_KEYS.contains(&name.as_str()) {
                        cx.error_spanned_by(
                            &meta.path,
                            format!("`{name}` is a field attribute: put `#[backfill({name} ...)]` on the field it applies to"),
                        );
                    } else {
                        suggested.extend(unknown_key(cx, &meta, &name, "struct", STRUCT_KEYS));
                    }
                    skip_value(&meta)?;
                }
            }
            Ok(())
        });
        if let Err(err) = result {
            cx.syn_error(err);
        }
    }

    Container {
        table: table.get(),
        from: from.get(),
        filter: filter.get(),
        batch_size: batch_size.get(),
        job: job.get(),
        on_conflict: on_conflict.get(),
        allow_other_unique_keys: allow_other.get().is_some(),
        engines: engines.get(),
        in_place: in_place.get(),
        suggested,
    }
}

/// Parses one field's attributes.
pub fn field(cx: &Ctxt, field: &syn::Field, ident: &Ident) -> Field {
    let mut key = Attr::none(cx, "key");
    let mut expr = Attr::none(cx, "expr");
    let mut pg = Attr::none(cx, "postgres");
    let mut my = Attr::none(cx, "mysql");
    let mut lite = Attr::none(cx, "sqlite");
    let mut column = Attr::none(cx, "column");
    let mut merge = Attr::none(cx, "merge");
    let mut allow_volatile = Attr::none(cx, "allow_volatile");

    for attr in backfill_attrs(&field.attrs) {
        let result = attr.parse_nested_meta(|meta| {
            let name = path_name(&meta);
            match name.as_str() {
                "key" => {
                    flag(&meta)?;
                    key.set(&meta.path, meta.path.span());
                }
                "expr" => {
                    let lit = sql_value(cx, &meta)?;
                    expr.set(&meta.path, lit);
                }
                "postgres" => {
                    let lit = sql_value(cx, &meta)?;
                    pg.set(&meta.path, lit);
                }
                "mysql" => {
                    let lit = sql_value(cx, &meta)?;
                    my.set(&meta.path, lit);
                }
                "sqlite" => {
                    let lit = sql_value(cx, &meta)?;
                    lite.set(&meta.path, lit);
                }
                "column" => {
                    let lit = string_value(&meta)?;
                    column.set(&meta.path, lit);
                }
                "merge" => {
                    let lit = string_value(&meta)?;
                    let parsed = match lit.value().as_str() {
                        "greatest" => Some(Merge::Greatest),
                        "least" => Some(Merge::Least),
                        "keep" => Some(Merge::Keep),
                        "overwrite" => Some(Merge::Overwrite),
                        "max" | "maximum" | "greater" => {
                            cx.error_spanned_by(&lit, "unknown merge `max`: write `merge = \"greatest\"` (keeps the larger of the stored and the recomputed value, NULLs ignored)");
                            None
                        }
                        "min" | "minimum" | "lesser" | "smallest" => {
                            cx.error_spanned_by(&lit, "unknown merge `min`: write `merge = \"least\"` (keeps the smaller of the stored and the recomputed value, NULLs ignored)");
                            None
                        }
                        other => {
                            let relative = matches!(other, "add" | "sum" | "increment" | "append" | "concat" | "+" | "+=" | "-=" | "-" | "subtract");
                            let why = if relative {
                                " (a relative merge would be applied again by every retried batch)"
                            } else {
                                ""
                            };
                            cx.error_spanned_by(
                                &lit,
                                format!("unknown merge `{other}`{why}: write `merge = \"greatest\"`, `\"least\"` or `\"keep\"`; each converges when repeated"),
                            );
                            None
                        }
                    };
                    if let Some(m) = parsed {
                        merge.set(&meta.path, (m, lit));
                    }
                }
                "allow_volatile" => {
                    flag(&meta)?;
                    allow_volatile.set(&meta.path, ());
                }
                _ => {
                    if RELATIVE_UPDATE_KEYS.contains(&name.as_str()) {
                        cx.error_spanned_by(&meta.path, relative_update_message(&name, &field_column(field, ident)));
                    } else if STRUCT_KEYS.contains(&name.as_str()) {
                        cx.error_spanned_by(
                            &meta.path,
                            format!("`{name}` is a struct attribute: put it in `#[backfill(...)]` on the struct"),
                        );
                    } else {
                        let _ = unknown_key(cx, &meta, &name, "field", FIELD_KEYS);
                    }
                    skip_value(&meta)?;
                }
            }
            Ok(())
        });
        if let Err(err) = result {
            cx.syn_error(err);
        }
    }

    Field {
        ident: ident.clone(),
        ty: field.ty.clone(),
        key: key.get(),
        expr: expr.get(),
        engine_exprs: [pg.get(), my.get(), lite.get()],
        column: column.get(),
        merge: merge.get(),
        allow_volatile: allow_volatile.get().is_some(),
    }
}

fn field_column(field: &syn::Field, ident: &Ident) -> String {
    // Only for the message: the `column` attribute is parsed properly elsewhere.
    for attr in backfill_attrs(&field.attrs) {
        let mut found = None;
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("column") {
                if let Ok(lit) = meta.value().and_then(|v| v.parse::<LitStr>()) {
                    found = Some(lit.value());
                }
            } else {
                skip_value(&meta)?;
            }
            Ok(())
        });
        if let Some(col) = found {
            return col;
        }
    }
    ident.to_string()
}

/// The message for `increment = ...`, `update = ...`, `op = "+="` and the like.
pub fn relative_update_message(name: &str, column: &str) -> String {
    format!(
        "`{name}` is not a backfill attribute: a backfill never updates a column relative to its stored value (`{column} = {column} + n`), because a batch is retried after a crash and overlapping runs repeat keys, so a relative update is applied twice; write the absolute value recomputed from the source instead, e.g. `#[backfill(expr = \"sum(amount)\")]` or `#[backfill(expr = \"count(*)\")]`, and use `merge = \"greatest\"`, `\"least\"` or `\"keep\"` to combine it with the stored value in a way that converges"
    )
}

fn backfill_attrs(attrs: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attrs.iter().filter(|a| a.path().is_ident("backfill"))
}

fn path_name(meta: &ParseNestedMeta) -> String {
    match meta.path.get_ident() {
        Some(ident) => ident.to_string(),
        None => meta.path.to_token_stream().to_string().replace(' ', ""),
    }
}

fn string_value(meta: &ParseNestedMeta) -> syn::Result<LitStr> {
    let name = path_name(meta);
    if !meta.input.peek(Token![=]) {
        return Err(meta.error(format!("`{name}` takes a value: write `{name} = \"...\"`")));
    }
    meta.value()?.parse::<LitStr>().map_err(|e| {
        syn::Error::new(
            e.span(),
            format!("`{name}` takes a string literal: write `{name} = \"...\"`"),
        )
    })
}

fn sql_value(cx: &Ctxt, meta: &ParseNestedMeta) -> syn::Result<LitStr> {
    let lit = string_value(meta)?;
    if lit.value().trim().is_empty() {
        cx.error_spanned_by(
            &lit,
            format!(
                "`{}` is empty: write a SQL expression, or leave it out to copy the source column of the same name",
                path_name(meta)
            ),
        );
    }
    Ok(lit)
}

/// `batch_size = 1000`; anything else (a string, a negative number, a float) gets a message
/// saying what to write. `Ok(None)` when the error was recorded.
fn batch_size_value(cx: &Ctxt, meta: &ParseNestedMeta) -> syn::Result<Option<(u64, LitInt)>> {
    const WHAT: &str = "`batch_size` is the number of distinct keys per batch: write a positive integer such as `batch_size = 1000`, or leave it out for adaptive sizing";
    let expr: syn::Expr = meta.value()?.parse()?;
    match &expr {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(lit),
            ..
        }) => match lit.base10_parse::<u64>() {
            Ok(n) => Ok(Some((n, lit.clone()))),
            Err(_) => {
                cx.error_spanned_by(lit, WHAT);
                Ok(None)
            }
        },
        _ => {
            cx.error_spanned_by(
                &expr,
                format!(
                    "`batch_size = {}`: {WHAT}",
                    expr.to_token_stream().to_string().replace(' ', "")
                ),
            );
            Ok(None)
        }
    }
}

fn flag(meta: &ParseNestedMeta) -> syn::Result<()> {
    if meta.input.peek(Token![=]) || meta.input.peek(syn::token::Paren) {
        let name = path_name(meta);
        return Err(meta.error(format!(
            "`{name}` takes no value: write `#[backfill({name})]`"
        )));
    }
    Ok(())
}

/// Consumes `= value` or `(...)` after an unknown key, so the keys after it are still read.
fn skip_value(meta: &ParseNestedMeta) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<syn::Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        content.parse::<proc_macro2::TokenStream>()?;
    }
    Ok(())
}

/// Reports an unknown key; returns the attribute suggested for it.
fn unknown_key(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
    name: &str,
    place: &str,
    known: &[&'static str],
) -> Option<&'static str> {
    let suggested = closest(name, known);
    let suggestion = suggested
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default();
    cx.error_spanned_by(
        &meta.path,
        format!(
            "unknown backfill {place} attribute `{name}`{suggestion}; the {place} attributes are: {}",
            known.join(", ")
        ),
    );
    suggested
}

/// The known name nearest to `name`, if it is a plausible typo.
pub fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    // What people type for the attributes, where spelling distance does not help.
    let synonym = match lower.as_str() {
        "source" | "src" | "source_table" => Some("from"),
        "target" | "target_table" | "into" => Some("table"),
        "expression" | "sql" | "value" | "select" => Some("expr"),
        "unique" | "pk" | "primary_key" | "conflict" | "unique_key" => Some("key"),
        "where" | "condition" => Some("filter"),
        _ => None,
    };
    if let Some(found) = synonym.and_then(|s| known.iter().find(|k| **k == s)) {
        return Some(found);
    }
    let near = known
        .iter()
        .map(|k| (edit_distance(&lower, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3) && *d < k.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k);
    // `expression` for `expr`, `allow_volatile_fn` for `allow_volatile`.
    near.or_else(|| {
        known
            .iter()
            .find(|k| {
                k.len() >= 3
                    && lower.len() >= 3
                    && (lower.starts_with(**k) || k.starts_with(&lower))
            })
            .copied()
    })
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn parse_engines(cx: &Ctxt, lit: &LitStr) -> Option<Vec<Engine>> {
    let text = lit.value();
    let mut list = Vec::new();
    let mut ok = true;
    for name in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match Engine::parse(name) {
            Some(e) if list.contains(&e) => {
                cx.error_spanned_by(lit, format!("engine `{name}` is listed twice in `engines`"));
                ok = false;
            }
            Some(e) => list.push(e),
            None => {
                cx.error_spanned_by(
                    lit,
                    format!("unknown engine `{name}` in `engines`: the engines are postgres, mysql and sqlite (e.g. `engines = \"postgres, mysql\"`)"),
                );
                ok = false;
            }
        }
    }
    if ok && list.is_empty() {
        cx.error_spanned_by(
            lit,
            "`engines` is empty: name at least one of postgres, mysql, sqlite, or leave it out for every engine enabled by the crate's features",
        );
        ok = false;
    }
    ok.then_some(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_misses_are_suggested_and_far_names_are_not() {
        assert_eq!(closest("tabel", STRUCT_KEYS), Some("table"));
        assert_eq!(closest("batchsize", STRUCT_KEYS), Some("batch_size"));
        assert_eq!(closest("exp", FIELD_KEYS), Some("expr"));
        assert_eq!(closest("allow_volatil", FIELD_KEYS), Some("allow_volatile"));
        assert_eq!(closest("expression", FIELD_KEYS), Some("expr"));
        assert_eq!(closest("wibble", FIELD_KEYS), None);
        assert_eq!(closest("x", FIELD_KEYS), None);
    }

    #[test]
    fn duplicate_and_unknown_attributes_are_all_reported() {
        let input: syn::DeriveInput = syn::parse_quote! {
            #[backfill(table = "a", table = "b", tabel = "c", from = "x", key)]
            struct S { f: i64 }
        };
        let cx = Ctxt::new();
        let c = container(&cx, &input.attrs);
        assert_eq!(c.table.map(|l| l.value()).as_deref(), Some("a"));
        let msg = cx
            .check()
            .unwrap_err()
            .into_iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>();
        assert_eq!(msg.len(), 3, "{msg:?}");
        assert!(
            msg[0].contains("duplicate backfill attribute `table`"),
            "{msg:?}"
        );
        assert!(msg[1].contains("did you mean `table`?"), "{msg:?}");
        assert!(msg[2].contains("`key` is a field attribute"), "{msg:?}");
    }

    #[test]
    fn relative_update_attempts_explain_the_rule() {
        let input: syn::DeriveInput = syn::parse_quote! {
            struct S { #[backfill(increment = "amount", op = "+=")] total: i64 }
        };
        let syn::Data::Struct(data) = &input.data else {
            unreachable!()
        };
        let f = data.fields.iter().next().unwrap();
        let cx = Ctxt::new();
        field(&cx, f, f.ident.as_ref().unwrap());
        let msg = cx
            .check()
            .unwrap_err()
            .into_iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>();
        assert_eq!(msg.len(), 2);
        assert!(msg[0].contains("`total = total + n`"), "{msg:?}");
        assert!(
            msg[1].starts_with("`op` is not a backfill attribute"),
            "{msg:?}"
        );
    }
}
