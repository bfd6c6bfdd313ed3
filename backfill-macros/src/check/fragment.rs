//! Every SQL fragment of a struct (`from`, `filter`, each field's `expr` and per-engine
//! expressions) parsed once per checked engine, with the error of a fragment that does not
//! parse; the rules then read the [`Facts`] of each, never the text.

use std::cell::Cell;

use syn::LitStr;

use super::facts::{self, Facts, OrderDependence};
use crate::ast::{Container, Field};
use crate::ctxt::{Ctxt, Message};
use crate::model::Engine;

/// One SQL fragment the user wrote, parsed for every engine it is generated for.
pub struct Fragment<'a> {
    /// The attribute's literal: where its errors are spanned.
    pub lit: &'a LitStr,
    /// Engines it did not parse for (reported already).
    pub failed: Vec<Engine>,
    /// An idempotence error was reported for it: later rules (the target read through `from`,
    /// grouping) do not pile on.
    pub reported: Cell<bool>,
    /// The facts per engine that parsed.
    pub facts: Vec<(Engine, Facts)>,
}

impl Fragment<'_> {
    /// The first engine's facts: the rules report each mistake once per literal, not once per
    /// dialect.
    pub fn first(&self) -> Option<&Facts> {
        self.facts.first().map(|(_, f)| f)
    }

    /// The first volatile call any dialect found (per-engine syntax such as SQLite's
    /// `datetime('now')` is seen only by that engine's parse).
    pub fn volatile_call(&self) -> Option<&String> {
        self.facts.iter().find_map(|(_, f)| f.volatile.first())
    }

    /// The first dependence on row order any dialect found.
    pub fn order_dependence(&self) -> Option<&OrderDependence> {
        self.facts
            .iter()
            .find_map(|(_, f)| f.order_dependent.first())
    }
}

/// A field and its parsed expressions.
pub struct ParsedField<'a> {
    /// The field.
    pub field: &'a Field<'a>,
    /// `expr` and the per-engine expressions of the checked engines; empty when the field
    /// copies its column.
    pub fragments: Vec<Fragment<'a>>,
}

/// A struct with every SQL fragment parsed, and what the rules derive from its attributes.
pub struct Parsed<'a> {
    /// The struct.
    pub cont: &'a Container<'a>,
    /// The engines the fragments were parsed for.
    pub engines: Vec<Engine>,
    /// `from`, parsed as a FROM clause.
    pub from: Option<Fragment<'a>>,
    /// `filter`, parsed as an expression.
    pub filter: Option<Fragment<'a>>,
    /// Every field, in order.
    pub fields: Vec<ParsedField<'a>>,
    /// The target table's name parts, when `table` names a table.
    pub target: Option<Vec<String>>,
    /// The names `from` gives its top-level sources (aliases, or table names), lowercased.
    pub sources: Vec<String>,
    /// With the service's migrations: every column of the tables `from` reads, lowercased. An
    /// unqualified name among them is a source read, not the stored value.
    pub source_columns: Option<Vec<String>>,
}

impl<'a> Parsed<'a> {
    /// Parses every fragment of `cont` for each checked engine, recording the ones that do not
    /// parse.
    pub fn parse(cx: &Ctxt, cont: &'a Container<'a>) -> Parsed<'a> {
        let engines = cont.checked_engines();
        let attrs = &cont.attrs;
        let from = attrs
            .from
            .as_ref()
            .map(|lit| parse(cx, lit, "from", &engines, Kind::From));
        let filter = attrs
            .filter
            .as_ref()
            .map(|lit| parse(cx, lit, "filter", &engines, Kind::Expr));
        let fields = cont
            .fields
            .iter()
            .map(|field| ParsedField {
                field,
                fragments: field_fragments(cx, field, &engines),
            })
            .collect();
        let sources = source_names(from.as_ref());
        Parsed {
            cont,
            engines,
            from,
            filter,
            fields,
            target: cont.target(),
            sources,
            source_columns: None,
        }
    }

    /// The key fields, in order.
    pub fn key_fields(&self) -> impl Iterator<Item = &ParsedField<'a>> {
        self.fields.iter().filter(|f| f.field.is_key())
    }

    /// The non-key fields, in order.
    pub fn value_fields(&self) -> impl Iterator<Item = &ParsedField<'a>> {
        self.fields.iter().filter(|f| !f.field.is_key())
    }

    /// Every field's fragments, each with its field, in field order.
    pub fn field_fragments(&self) -> impl Iterator<Item = (&ParsedField<'a>, &Fragment<'a>)> {
        self.fields
            .iter()
            .flat_map(|f| f.fragments.iter().map(move |frag| (f, frag)))
    }
}

/// A field's `expr` (for the engines without their own expression) and its per-engine
/// expressions (for the checked engines; another engine's is refused by a rule).
fn field_fragments<'a>(cx: &Ctxt, field: &'a Field<'a>, engines: &[Engine]) -> Vec<Fragment<'a>> {
    let mut fragments = Vec::new();
    if let Some(lit) = &field.attrs.expr {
        let uncovered: Vec<Engine> = engines
            .iter()
            .copied()
            .filter(|e| field.attrs.engine_exprs[e.index()].is_none())
            .collect();
        if !uncovered.is_empty() {
            fragments.push(parse(cx, lit, "expr", &uncovered, Kind::Expr));
        }
    }
    for engine in Engine::ALL {
        if let Some(lit) = &field.attrs.engine_exprs[engine.index()] {
            if engines.contains(&engine) {
                fragments.push(parse(cx, lit, engine.name(), &[engine], Kind::Expr));
            }
        }
    }
    fragments
}

/// What a fragment is parsed as.
#[derive(Clone, Copy)]
enum Kind {
    Expr,
    From,
}

/// Parses `lit` for each of `engines`; one error for the engines it does not parse for.
fn parse<'a>(
    cx: &Ctxt,
    lit: &'a LitStr,
    attr_name: &str,
    engines: &[Engine],
    kind: Kind,
) -> Fragment<'a> {
    let text = lit.value();
    if let Some(mark) = executable_comment(&text) {
        cx.error_spanned_by(
            lit,
            Message::new(format!("`{attr_name}` contains a MySQL executable comment `{mark} ... */`"))
                .note("the check parses comments away, but MySQL and MariaDB run what is inside, so none of it would be checked")
                .help("write that SQL without the comment; a string holding those characters can be built with `concat('/*', '!')`"),
        );
        return Fragment {
            lit,
            failed: engines.to_vec(),
            reported: Cell::new(true),
            facts: Vec::new(),
        };
    }
    let mut facts = Vec::new();
    let mut failures = Vec::new();
    for &engine in engines {
        let parsed = match kind {
            Kind::Expr => facts::parse_expr(engine, &text).map(|e| facts::expr_facts(engine, &e)),
            Kind::From => facts::parse_from(engine, &text).map(|f| facts::from_facts(engine, &f)),
        };
        match parsed {
            Ok(f) => facts.push((engine, f)),
            Err(err) => failures.push((engine, err)),
        }
    }
    if !failures.is_empty() {
        does_not_parse(cx, lit, attr_name, engines, kind, &failures);
    }
    Fragment {
        lit,
        failed: failures.iter().map(|(e, _)| *e).collect(),
        reported: Cell::new(false),
        facts,
    }
}

/// `/*!` (MySQL, MariaDB) or `/*M!` (MariaDB) anywhere in the text, string literals included:
/// decided on the raw text, since no parser of the check keeps what the server will run.
fn executable_comment(text: &str) -> Option<&'static str> {
    let upper = text.to_ascii_uppercase();
    ["/*M!", "/*!"]
        .into_iter()
        .find(|mark| upper.contains(mark))
}

/// The error of a fragment that does not parse for some engines: which engines, then each
/// engine's parser error (once when every engine says the same).
fn does_not_parse(
    cx: &Ctxt,
    lit: &LitStr,
    attr_name: &str,
    engines: &[Engine],
    kind: Kind,
    failures: &[(Engine, String)],
) {
    let what = match kind {
        Kind::Expr => "SQL expression",
        Kind::From => "FROM clause",
    };
    let everywhere = failures.len() == engines.len() && engines.len() > 1;
    let on = if everywhere {
        "any engine".to_string()
    } else {
        let names: Vec<&str> = failures.iter().map(|(e, _)| e.display_name()).collect();
        names.join(" or ")
    };
    let mut message = Message::new(format!("`{attr_name}` does not parse as a {what} on {on}"));
    let parser_error = |err: &String| err.replace("sql parser error: ", "");
    if everywhere && failures.iter().all(|(_, err)| *err == failures[0].1) {
        message = message.note(parser_error(&failures[0].1));
    } else {
        for (engine, err) in failures {
            message = message.note(format!("{}: {}", engine.display_name(), parser_error(err)));
        }
    }
    let alternative = if matches!(attr_name, "filter" | "from") {
        "or restrict the struct to the engines it is written for with `engines = \"...\"`"
    } else {
        "or give per-engine versions with `postgres = \"...\"`, `mysql = \"...\"`, `sqlite = \"...\"`"
    };
    cx.error_spanned_by(
        lit,
        message.help(format!(
            "write it in the syntax of every engine it is generated for, {alternative}"
        )),
    );
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
