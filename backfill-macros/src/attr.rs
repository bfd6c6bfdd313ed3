//! `#[backfill(...)]` attributes to a typed model with spans. Duplicates, unknown keys (with
//! the list of known ones and a near-miss suggestion) and attempts at a relative update are
//! refused here; the idempotence rules are applied later, in `check`.

use proc_macro2::Span;
use quote::ToTokens;
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{Attribute, Ident, LitInt, LitStr, Token};

use crate::ctxt::{Ctxt, Message};
use crate::model::{Engine, Merge, Strategy};

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
    "deterministic",
    "source_key_unique",
    "migrations",
    "strategy",
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
    "deterministic",
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
    /// `deterministic = "slugify, util.normalize"`: the user's own functions, declared
    /// deterministic for every fragment of the struct (lowercase names, as written).
    pub deterministic: Vec<String>,
    /// `source_key_unique`: the user declares that a row mapping's key identifies one source row
    /// although the checker cannot show it (a computed key, a join).
    pub source_key_unique: bool,
    /// `migrations = "db/migrations"`: where the schema comes from, relative to the crate's
    /// Cargo.toml (default: `migrations/`, when it exists).
    pub migrations: Option<LitStr>,
    /// `strategy = "ranges" | "scan" | "auto"`, parsed, with its literal.
    pub strategy: Option<(Strategy, LitStr)>,
    /// Attributes suggested for unknown keys (`tabel` -> `table`): a missing `table` is then
    /// not reported again.
    pub suggested: Vec<&'static str>,
}

/// One field's `#[backfill(...)]` attributes.
pub struct Field {
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
    /// `deterministic = "..."`: functions declared deterministic for this field's expressions.
    pub deterministic: Vec<String>,
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
                Message::new(format!("duplicate backfill attribute `{}`", self.name))
                    .help("give it once"),
            );
        } else {
            self.value = Some(value);
        }
    }

    /// Sets a value that parsed; `None` (its error already recorded) is skipped.
    fn set_some<S: ToTokens>(&mut self, spanned: S, value: Option<T>) {
        if let Some(value) = value {
            self.set(spanned, value);
        }
    }

    fn get(self) -> Option<T> {
        self.value
    }
}

/// Parses the struct's attributes.
pub fn container(cx: &Ctxt, attrs: &[Attribute]) -> Container {
    let mut reader = ContainerReader::new(cx);
    for attr in backfill_attrs(attrs) {
        if let Err(err) = attr.parse_nested_meta(|meta| reader.read(&meta)) {
            cx.syn_error(err);
        }
    }
    reader.finish()
}

/// The struct's attributes while they are read.
struct ContainerReader<'c> {
    cx: &'c Ctxt,
    table: Attr<'c, LitStr>,
    from: Attr<'c, LitStr>,
    filter: Attr<'c, LitStr>,
    batch_size: Attr<'c, (u64, LitInt)>,
    job: Attr<'c, LitStr>,
    on_conflict: Attr<'c, (OnConflict, LitStr)>,
    allow_other_unique_keys: Attr<'c, ()>,
    engines: Attr<'c, (Vec<Engine>, LitStr)>,
    in_place: Attr<'c, Span>,
    deterministic: Attr<'c, Vec<String>>,
    source_key_unique: Attr<'c, ()>,
    migrations: Attr<'c, LitStr>,
    strategy: Attr<'c, (Strategy, LitStr)>,
    suggested: Vec<&'static str>,
}

impl<'c> ContainerReader<'c> {
    fn new(cx: &'c Ctxt) -> Self {
        ContainerReader {
            cx,
            table: Attr::none(cx, "table"),
            from: Attr::none(cx, "from"),
            filter: Attr::none(cx, "filter"),
            batch_size: Attr::none(cx, "batch_size"),
            job: Attr::none(cx, "job"),
            on_conflict: Attr::none(cx, "on_conflict"),
            allow_other_unique_keys: Attr::none(cx, "allow_other_unique_keys"),
            engines: Attr::none(cx, "engines"),
            in_place: Attr::none(cx, "in_place"),
            deterministic: Attr::none(cx, "deterministic"),
            source_key_unique: Attr::none(cx, "source_key_unique"),
            migrations: Attr::none(cx, "migrations"),
            strategy: Attr::none(cx, "strategy"),
            suggested: Vec::new(),
        }
    }

    /// Reads one key (and its value) of `#[backfill(...)]`.
    fn read(&mut self, meta: &ParseNestedMeta) -> syn::Result<()> {
        let cx = self.cx;
        let path = &meta.path;
        let name = path_name(meta);
        match name.as_str() {
            "table" => self.table.set(path, string_value(meta)?),
            "from" => self.from.set(path, string_value(meta)?),
            "filter" => self.filter.set(path, string_value(meta)?),
            "job" => self.job.set(path, job_value(cx, meta)?),
            "batch_size" => self.batch_size.set_some(path, batch_size_value(cx, meta)?),
            "on_conflict" => self
                .on_conflict
                .set_some(path, on_conflict_value(cx, meta)?),
            "allow_other_unique_keys" => {
                flag(meta)?;
                self.allow_other_unique_keys.set(path, ());
            }
            "engines" => self.engines.set_some(path, engines_value(cx, meta)?),
            "in_place" => {
                flag(meta)?;
                self.in_place.set(path, path.span());
            }
            "deterministic" => self
                .deterministic
                .set_some(path, deterministic_value(cx, meta)?),
            "source_key_unique" => {
                flag(meta)?;
                self.source_key_unique.set(path, ());
            }
            "migrations" => self.migrations.set(path, string_value(meta)?),
            "strategy" => self.strategy.set_some(path, strategy_value(cx, meta)?),
            _ => {
                if FIELD_KEYS.contains(&name.as_str()) {
                    cx.error_spanned_by(
                        path,
                        Message::new(format!(
                            "`{name}` is a field attribute, not a struct attribute"
                        ))
                        .help(format!(
                            "put `#[backfill({name} ...)]` on the field it applies to"
                        )),
                    );
                } else {
                    self.suggested
                        .extend(unknown_key(cx, meta, &name, "struct", STRUCT_KEYS));
                }
                skip_value(meta)?;
            }
        }
        Ok(())
    }

    fn finish(self) -> Container {
        Container {
            table: self.table.get(),
            from: self.from.get(),
            filter: self.filter.get(),
            batch_size: self.batch_size.get(),
            job: self.job.get(),
            on_conflict: self.on_conflict.get(),
            allow_other_unique_keys: self.allow_other_unique_keys.get().is_some(),
            engines: self.engines.get(),
            in_place: self.in_place.get(),
            deterministic: self.deterministic.get().unwrap_or_default(),
            source_key_unique: self.source_key_unique.get().is_some(),
            migrations: self.migrations.get(),
            strategy: self.strategy.get(),
            suggested: self.suggested,
        }
    }
}

/// Parses one field's attributes.
pub fn field(cx: &Ctxt, field: &syn::Field, ident: &Ident) -> Field {
    let mut reader = FieldReader::new(cx, field, ident);
    for attr in backfill_attrs(&field.attrs) {
        if let Err(err) = attr.parse_nested_meta(|meta| reader.read(&meta)) {
            cx.syn_error(err);
        }
    }
    reader.finish()
}

/// A field's attributes while they are read.
struct FieldReader<'c> {
    cx: &'c Ctxt,
    field: &'c syn::Field,
    ident: &'c Ident,
    key: Attr<'c, Span>,
    expr: Attr<'c, LitStr>,
    /// Indexed by `Engine::index`.
    engine_exprs: [Attr<'c, LitStr>; 3],
    column: Attr<'c, LitStr>,
    merge: Attr<'c, (Merge, LitStr)>,
    allow_volatile: Attr<'c, ()>,
    deterministic: Attr<'c, Vec<String>>,
}

impl<'c> FieldReader<'c> {
    fn new(cx: &'c Ctxt, field: &'c syn::Field, ident: &'c Ident) -> Self {
        FieldReader {
            cx,
            field,
            ident,
            key: Attr::none(cx, "key"),
            expr: Attr::none(cx, "expr"),
            engine_exprs: Engine::ALL.map(|e| Attr::none(cx, e.name())),
            column: Attr::none(cx, "column"),
            merge: Attr::none(cx, "merge"),
            allow_volatile: Attr::none(cx, "allow_volatile"),
            deterministic: Attr::none(cx, "deterministic"),
        }
    }

    /// Reads one key (and its value) of `#[backfill(...)]`.
    fn read(&mut self, meta: &ParseNestedMeta) -> syn::Result<()> {
        let cx = self.cx;
        let path = &meta.path;
        let name = path_name(meta);
        let engine = Engine::ALL.into_iter().find(|e| e.name() == name);
        match name.as_str() {
            "key" => {
                flag(meta)?;
                self.key.set(path, path.span());
            }
            "expr" => self.expr.set(path, sql_value(cx, meta)?),
            "postgres" | "mysql" | "sqlite" => {
                let lit = sql_value(cx, meta)?;
                if let Some(engine) = engine {
                    self.engine_exprs[engine.index()].set(path, lit);
                }
            }
            "column" => self.column.set(path, string_value(meta)?),
            "merge" => self.merge.set_some(path, merge_value(cx, meta)?),
            "allow_volatile" => {
                flag(meta)?;
                self.allow_volatile.set(path, ());
            }
            "deterministic" => self
                .deterministic
                .set_some(path, deterministic_value(cx, meta)?),
            _ => {
                self.unknown(meta, &name);
                skip_value(meta)?;
            }
        }
        Ok(())
    }

    /// A key no field takes: an attempt at a relative update, a struct attribute, or a typo.
    fn unknown(&self, meta: &ParseNestedMeta, name: &str) {
        let path = &meta.path;
        if RELATIVE_UPDATE_KEYS.contains(&name) {
            let column = field_column(self.field, self.ident);
            self.cx
                .error_spanned_by(path, relative_update_message(name, &column));
        } else if STRUCT_KEYS.contains(&name) {
            self.cx.error_spanned_by(
                path,
                Message::new(format!(
                    "`{name}` is a struct attribute, not a field attribute"
                ))
                .help("put it in `#[backfill(...)]` on the struct"),
            );
        } else {
            let _ = unknown_key(self.cx, meta, name, "field", FIELD_KEYS);
        }
    }

    fn finish(self) -> Field {
        Field {
            key: self.key.get(),
            expr: self.expr.get(),
            engine_exprs: self.engine_exprs.map(Attr::get),
            column: self.column.get(),
            merge: self.merge.get(),
            allow_volatile: self.allow_volatile.get().is_some(),
            deterministic: self.deterministic.get().unwrap_or_default(),
        }
    }
}

/// `job = "..."`, not blank.
fn job_value(cx: &Ctxt, meta: &ParseNestedMeta) -> syn::Result<LitStr> {
    let lit = string_value(meta)?;
    if lit.value().trim().is_empty() {
        cx.error_spanned_by(&lit, Message::new("`job` is empty").help("name the job, e.g. `job = \"user_stats_v2\"`, or leave it out to use the table name"));
    }
    Ok(lit)
}

/// `on_conflict = "update"` or `"nothing"`; `Ok(None)` when the error was recorded.
fn on_conflict_value(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
) -> syn::Result<Option<(OnConflict, LitStr)>> {
    let lit = string_value(meta)?;
    let parsed = match lit.value().as_str() {
        "update" => OnConflict::Update,
        "nothing" => OnConflict::Nothing,
        other => {
            cx.error_spanned_by(
                &lit,
                Message::new(format!("unknown on_conflict `{other}`")).help("write `on_conflict = \"update\"` (the default: recompute the row) or `on_conflict = \"nothing\"` (write-once rows, never updated)"),
            );
            return Ok(None);
        }
    };
    Ok(Some((parsed, lit)))
}

/// `strategy = "ranges"`, `"scan"` or `"auto"`; `Ok(None)` when the error was recorded.
fn strategy_value(cx: &Ctxt, meta: &ParseNestedMeta) -> syn::Result<Option<(Strategy, LitStr)>> {
    let lit = string_value(meta)?;
    match Strategy::parse(&lit.value()) {
        Some(strategy) => Ok(Some((strategy, lit))),
        None => {
            cx.error_spanned_by(
                &lit,
                Message::new(format!("unknown strategy `{}`", lit.value())).help("write `strategy = \"ranges\"` (key ranges read through the key), `strategy = \"scan\"` (the source read in its stored order, partial aggregates merged per key) or `strategy = \"auto\"` (the default: chosen before each run from the access path)"),
            );
            Ok(None)
        }
    }
}

/// `deterministic = "slugify, util.normalize_email"`: function names, optionally qualified by a
/// schema, separated by commas; lowercased (SQL function names are case-insensitive unless
/// quoted). `Ok(None)` when the error was recorded.
fn deterministic_value(cx: &Ctxt, meta: &ParseNestedMeta) -> syn::Result<Option<Vec<String>>> {
    let lit = string_value(meta)?;
    let value = lit.value();
    let names: Vec<String> = value
        .split(',')
        .map(|n| n.trim().to_ascii_lowercase())
        .collect();
    let is_name = |n: &String| {
        !n.is_empty()
            && n.split('.').all(|part| {
                part.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
            })
    };
    if let Some(bad) = names.iter().find(|n| !is_name(n)) {
        let shown = if bad.is_empty() { "an empty name" } else { bad };
        cx.error_spanned_by(
            &lit,
            Message::new(format!("`deterministic` lists `{shown}`, not a function name"))
                .help("list the functions by name, without parentheses, separated by commas, e.g. `deterministic = \"slugify, util.normalize_email\"`"),
        );
        return Ok(None);
    }
    Ok(Some(names))
}

/// `engines = "postgres, mysql"`; `Ok(None)` when the error was recorded.
fn engines_value(cx: &Ctxt, meta: &ParseNestedMeta) -> syn::Result<Option<(Vec<Engine>, LitStr)>> {
    let lit = string_value(meta)?;
    Ok(parse_engines(cx, &lit).map(|list| (list, lit)))
}

/// `merge = "greatest" | "least" | "keep" | "overwrite"`; a relative merge (`"sum"`) or a near
/// miss (`"max"`) gets a message saying what to write. `Ok(None)` when the error was recorded.
fn merge_value(cx: &Ctxt, meta: &ParseNestedMeta) -> syn::Result<Option<(Merge, LitStr)>> {
    let lit = string_value(meta)?;
    let parsed = match lit.value().as_str() {
        "greatest" => Merge::Greatest,
        "least" => Merge::Least,
        "keep" => Merge::Keep,
        "overwrite" => Merge::Overwrite,
        near @ ("max" | "maximum" | "greater") => {
            cx.error_spanned_by(&lit, Message::new(format!("unknown merge `{near}`")).help("write `merge = \"greatest\"`: it keeps the larger of the stored and the recomputed value, NULLs ignored"));
            return Ok(None);
        }
        near @ ("min" | "minimum" | "lesser" | "smallest") => {
            cx.error_spanned_by(&lit, Message::new(format!("unknown merge `{near}`")).help("write `merge = \"least\"`: it keeps the smaller of the stored and the recomputed value, NULLs ignored"));
            return Ok(None);
        }
        other => {
            let relative = matches!(
                other,
                "add"
                    | "sum"
                    | "increment"
                    | "append"
                    | "concat"
                    | "+"
                    | "+="
                    | "-="
                    | "-"
                    | "subtract"
            );
            let mut message = Message::new(format!("unknown merge `{other}`"));
            if relative {
                message =
                    message.note("a relative merge would be applied again by every retried batch");
            }
            cx.error_spanned_by(
                &lit,
                message.help("write `merge = \"greatest\"`, `\"least\"` or `\"keep\"`; each converges when repeated"),
            );
            return Ok(None);
        }
    };
    Ok(Some((parsed, lit)))
}

/// The target column named in the field's attributes, for the message of a relative update
/// attempt (the `column` attribute itself is read by [`FieldReader`]).
fn field_column(field: &syn::Field, ident: &Ident) -> String {
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
pub fn relative_update_message(name: &str, column: &str) -> Message {
    Message::new(format!(
        "`{name}` is not a backfill attribute: there is no relative update"
    ))
    .note(format!("a backfill never updates a column relative to its stored value: a batch is retried after a crash and overlapping runs repeat keys, so `{column} = {column} + n` would be applied twice"))
    .help("write the absolute value recomputed from the source, e.g. `#[backfill(expr = \"sum(amount)\")]` or `#[backfill(expr = \"count(*)\")]`")
    .help("to combine it with the stored value in a way that converges, use `merge = \"greatest\"`, `\"least\"` or `\"keep\"`")
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
        return Err(meta.error(
            Message::new(format!("`{name}` takes a value"))
                .help(format!("write `{name} = \"...\"`")),
        ));
    }
    meta.value()?.parse::<LitStr>().map_err(|e| {
        syn::Error::new(
            e.span(),
            Message::new(format!("`{name}` takes a string literal"))
                .help(format!("write `{name} = \"...\"`")),
        )
    })
}

fn sql_value(cx: &Ctxt, meta: &ParseNestedMeta) -> syn::Result<LitStr> {
    let lit = string_value(meta)?;
    if lit.value().trim().is_empty() {
        cx.error_spanned_by(
            &lit,
            Message::new(format!("`{}` is empty", path_name(meta))).help("write a SQL expression, or leave it out to copy the source column of the same name"),
        );
    }
    Ok(lit)
}

/// `batch_size = 1000`; anything else (a string, a negative number, a float) gets a message
/// saying what to write. `Ok(None)` when the error was recorded.
fn batch_size_value(cx: &Ctxt, meta: &ParseNestedMeta) -> syn::Result<Option<(u64, LitInt)>> {
    let not_a_count = |written: String| {
        Message::new(format!("`batch_size = {written}` is not a positive integer"))
            .note("`batch_size` is the number of distinct keys per batch")
            .help("write a positive integer such as `batch_size = 1000`, or leave it out for adaptive sizing")
    };
    let expr: syn::Expr = meta.value()?.parse()?;
    match &expr {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(lit),
            ..
        }) => match lit.base10_parse::<u64>() {
            Ok(n) => Ok(Some((n, lit.clone()))),
            Err(_) => {
                cx.error_spanned_by(lit, not_a_count(lit.to_string()));
                Ok(None)
            }
        },
        _ => {
            cx.error_spanned_by(
                &expr,
                not_a_count(expr.to_token_stream().to_string().replace(' ', "")),
            );
            Ok(None)
        }
    }
}

fn flag(meta: &ParseNestedMeta) -> syn::Result<()> {
    if meta.input.peek(Token![=]) || meta.input.peek(syn::token::Paren) {
        let name = path_name(meta);
        return Err(meta.error(
            Message::new(format!("`{name}` takes no value"))
                .help(format!("write `#[backfill({name})]`")),
        ));
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
    let mut message = Message::new(format!("unknown backfill {place} attribute `{name}`"));
    if let Some(s) = suggested {
        message = message.help(format!("did you mean `{s}`?"));
    }
    cx.error_spanned_by(
        &meta.path,
        message.help(format!("the {place} attributes are: {}", known.join(", "))),
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
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
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
                cx.error_spanned_by(
                    lit,
                    Message::new(format!("engine `{name}` is listed twice in `engines`"))
                        .help("list it once"),
                );
                ok = false;
            }
            Some(e) => list.push(e),
            None => {
                cx.error_spanned_by(
                    lit,
                    Message::new(format!("unknown engine `{name}` in `engines`")).help("the engines are postgres, mysql and sqlite, e.g. `engines = \"postgres, mysql\"`"),
                );
                ok = false;
            }
        }
    }
    if ok && list.is_empty() {
        cx.error_spanned_by(
            lit,
            Message::new("`engines` is empty").help("name at least one of postgres, mysql, sqlite, or leave it out for every engine enabled by the crate's features"),
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
