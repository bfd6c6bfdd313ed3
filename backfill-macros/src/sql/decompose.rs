//! Whether a mapping can be read by the scan strategy, and how: each aggregate of each value
//! split into the partial aggregates a chunk writes to the staging table and the merge that
//! reads them back (`count` -> sum of counts, `avg` -> sum of sums over sum of counts, ...),
//! and the table of `from` the chunks are cut on.
//!
//! A value is rewritten by replacing each aggregate call of its parsed expression by its merge;
//! what is left of the expression must read no source column (those are read by the partials
//! only), so the value computed from the merged partials is the value computed from the rows.

use std::ops::ControlFlow;

use sqlparser::ast::{
    visit_expressions, visit_expressions_mut, DuplicateTreatment, Expr, Function,
    FunctionArguments, Ident, JoinOperator, ObjectNamePart, Query, TableFactor,
    TableIndexDirective, TableIndexHintType, TableIndexHints, TableIndexType, Visit, Visitor,
};

use crate::dialect::{is_aggregate, parse_expr, parse_from};
use crate::model::{Backfill, Engine, KeyKind};
use backfill_core::scan::{staged_partial, type_marker};

/// The alias of the staging table in the merge phase's statements.
pub const STAGE_ALIAS: &str = "__s";

/// A mapping split for the scan strategy on one engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decomposed {
    /// The table the chunks are cut on: its name parts as written, unquoted.
    pub driving: Vec<String>,
    /// How the statements name it (its alias, or its name), quoted.
    pub driving_ref: String,
    /// `from` as the chunks read it: the first table read along its primary key (MySQL
    /// `FORCE INDEX (PRIMARY)`, SQLite `NOT INDEXED`, which keeps rowid ranges), never through
    /// the index of the key a GROUP BY would otherwise walk, which is the scattered read the
    /// scan avoids. PostgreSQL has no hints: the run turns its plain index scans off for the
    /// chunk's statement instead.
    pub chunk_from: String,
    /// The partial aggregates, in the staging table's order (`p0`, `p1`, ...).
    pub partials: Vec<String>,
    /// For each column of the model, in order: the value computed from the merged partials
    /// (`None` for key columns).
    pub merged: Vec<Option<String>>,
    /// PostgreSQL: `merged` where every key has one partial row (the partials phase wrote one
    /// chunk), each merge of a partial written as the partial itself, typed as the merge is
    /// (`CAST(sum(p) AS BIGINT)` -> `CAST(p AS BIGINT)`, `max(p)` -> `p`): the same values with
    /// no GROUP BY. `None` on the other engines, or when a value merges an `avg` (whose merge
    /// divides sums of partials typed by the server).
    pub merged_one: Option<Vec<Option<String>>>,
}

/// How one aggregate is merged from its partials.
enum Merged {
    /// `f(p)` over one partial `f(x)`, with how the merged value is written.
    One(fn(Engine, &str) -> String),
    /// `avg(x)`: `sum(x)` and `count(x)`.
    Avg,
}

/// How `name` merges, or why it cannot.
fn merge_of(name: &str) -> Result<Merged, String> {
    Ok(Merged::One(match name {
        "count" => |engine, p| match engine {
            Engine::Postgres => format!("CAST(sum({p}) AS BIGINT)"),
            Engine::MySql => format!("CAST(sum({p}) AS SIGNED)"),
            Engine::Sqlite => format!("sum({p})"),
        },
        // PostgreSQL: the sum of `bigint` partial sums is `numeric`; cast back to the type of
        // the partial, which the run reads from the staging table it created.
        "sum" => |engine, p| match engine {
            Engine::Postgres => format!("CAST(sum({p}) AS {})", type_marker(partial_name(p))),
            Engine::MySql | Engine::Sqlite => format!("sum({p})"),
        },
        "total" => |_, p| format!("total({p})"),
        "min" => |_, p| format!("min({p})"),
        "max" => |_, p| format!("max({p})"),
        "bool_and" | "every" => |_, p| format!("bool_and({p})"),
        "bool_or" => |_, p| format!("bool_or({p})"),
        "bit_and" => |_, p| format!("bit_and({p})"),
        "bit_or" => |_, p| format!("bit_or({p})"),
        "bit_xor" => |_, p| format!("bit_xor({p})"),
        "avg" => return Ok(Merged::Avg),
        other => {
            return Err(format!(
                "`{other}(...)` cannot be merged from partial aggregates of chunks (only count, sum, min, max, avg, bool_and, bool_or and bit_and/or/xor can)"
            ))
        }
    }))
}

/// How merge `name` reads a key's one partial `p` on `engine`: the merge's value over one row,
/// of the merge's type; `None` where that is not written here (`avg`, SQLite's `total`, and
/// every merge on MySQL and SQLite, whose sums change the type).
fn merge_one(name: &str, engine: Engine, p: &str) -> Option<String> {
    if engine != Engine::Postgres {
        return None;
    }
    match name {
        // The merge's `CAST(sum(p) AS BIGINT)`: a count is a bigint, never NULL.
        "count" => Some(format!("CAST({p} AS BIGINT)")),
        // The merge casts the sum of partial sums back to the partial's type.
        "sum" => Some(format!("CAST({p} AS {})", type_marker(partial_name(p)))),
        "min" | "max" | "bool_and" | "every" | "bool_or" | "bit_and" | "bit_or" | "bit_xor" => {
            Some(p.to_string())
        }
        _ => None,
    }
}

/// The staging column a merge reads: the part after the alias of `"__s"."p0"`.
fn partial_name(reference: &str) -> &str {
    let column = reference.rsplit('.').next().unwrap_or(reference);
    column.trim_matches(|c| c == '"' || c == '`')
}

/// The aggregate's lowercase name, without a schema.
fn name_of(f: &Function) -> String {
    match f.name.0.last() {
        Some(ObjectNamePart::Identifier(ident)) => ident.value.to_ascii_lowercase(),
        _ => f.name.to_string().to_ascii_lowercase(),
    }
}

/// Placeholder of merged aggregate `i` while the expression is rewritten and printed.
fn slot(i: usize) -> String {
    format!("__backfill_merged_{i}__")
}

/// Splits `model` for the scan strategy on `engine`, or says why it cannot be.
pub fn decompose(model: &Backfill, engine: Engine) -> Result<Decomposed, String> {
    if model.in_place {
        return Err(format!(
            "{} updates existing rows of {} in place, over key ranges of the target; the scan builds rows from partial aggregates",
            model.name, model.table
        ));
    }
    if !model.grouped {
        return Err(
            "a row-to-row mapping has nothing to merge from partials: each key is its own source rows, and its ranges read in key order when the key is the source's primary key".to_string(),
        );
    }
    let from = model.from.as_deref().unwrap_or_default();
    let (driving, driving_ref, chunk_from) = driving_table(engine, from)?;
    let mut partials = Vec::new();
    let mut merged = Vec::new();
    let mut merged_one = Some(Vec::new());
    for c in &model.columns {
        if let Some(kind) = c.key {
            if engine == Engine::Sqlite && kind == KeyKind::Text {
                return Err(format!(
                    "the key `{}` is text, and SQLite's staging table cannot carry its collation: on SQLite the scan needs integer or binary keys",
                    c.column
                ));
            }
            merged.push(None);
            if let Some(one) = &mut merged_one {
                one.push(None);
            }
            continue;
        }
        let text = match &c.exprs[engine.index()] {
            Some(expr) => expr.clone(),
            None => {
                return Err(format!(
                    "`{}` copies a source column, which is not aggregated",
                    c.column
                ))
            }
        };
        let (value, one) = decompose_value(engine, &c.column, &text, &mut partials)?;
        merged.push(Some(value));
        merged_one = merged_one.zip(one).map(|(mut all, one)| {
            all.push(Some(one));
            all
        });
    }
    Ok(Decomposed {
        driving,
        driving_ref,
        chunk_from,
        partials,
        merged,
        merged_one,
    })
}

/// The first table of `from` (its name parts and how to reference it), which every row of the
/// join holds exactly once, and `from` with that table read along its primary key.
fn driving_table(engine: Engine, from: &str) -> Result<(Vec<String>, String, String), String> {
    let mut tables = parse_from(engine, from).map_err(|e| format!("`from` does not parse: {e}"))?;
    let Some(first) = tables.first() else {
        return Err("`from` names no table".to_string());
    };
    let TableFactor::Table {
        name, alias, args, ..
    } = &first.relation
    else {
        return Err(format!(
            "the scan cuts chunks on the first table of `from`, and `{}` is not a table",
            first.relation
        ));
    };
    if args.is_some() {
        return Err(format!(
            "the scan cuts chunks on the first table of `from`, and `{name}` is a table function"
        ));
    }
    for join in tables.iter().flat_map(|t| &t.joins) {
        let keeps_rows = matches!(
            join.join_operator,
            JoinOperator::Join(_)
                | JoinOperator::Inner(_)
                | JoinOperator::Left(_)
                | JoinOperator::LeftOuter(_)
                | JoinOperator::CrossJoin(_)
                | JoinOperator::StraightJoin(_)
        );
        if !keeps_rows {
            return Err(format!(
                "`{}` can make rows that hold no row of `{name}`, the first table of `from`, on which the scan cuts its chunks; only inner, left and cross joins can be scanned",
                join.relation
            ));
        }
    }
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(ident) => resolved(engine, ident),
            other => other.to_string(),
        })
        .collect();
    let reference = match alias {
        Some(alias) => engine.quote_ident(&resolved(engine, &alias.name)),
        None => engine.quote_ident(parts.last().map(String::as_str).unwrap_or_default()),
    };
    let chunk_from = match (engine, tables.first_mut().map(|t| &mut t.relation)) {
        (Engine::Postgres, _) => from.to_string(),
        (
            _,
            Some(TableFactor::Table {
                index_directives, ..
            }),
        ) if !index_directives.is_empty() => from.to_string(),
        (
            _,
            Some(TableFactor::Table {
                index_directives, ..
            }),
        ) => {
            index_directives.push(match engine {
                Engine::MySql => TableIndexDirective::MySql(TableIndexHints {
                    hint_type: TableIndexHintType::Force,
                    index_type: TableIndexType::Index,
                    for_clause: None,
                    index_names: vec![Ident::new("PRIMARY")],
                }),
                _ => TableIndexDirective::NotIndexed,
            });
            tables
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        }
        _ => from.to_string(),
    };
    Ok((parts, reference, chunk_from))
}

/// `text` (the value of `column`) with each aggregate replaced by its merge over new partials,
/// which are appended to `partials`; and with each replaced by its read of a key's one partial,
/// where every aggregate in it has one ([`merge_one`]).
fn decompose_value(
    engine: Engine,
    column: &str,
    text: &str,
    partials: &mut Vec<String>,
) -> Result<(String, Option<String>), String> {
    let mut expr =
        parse_expr(engine, text).map_err(|e| format!("`{column}` does not parse: {e}"))?;
    let mut merges: Vec<(String, Option<String>)> = Vec::new();
    let mut refused: Option<String> = None;
    let _ = visit_expressions_mut(&mut expr, |e| {
        let Expr::Function(f) = e else {
            return ControlFlow::<()>::Continue(());
        };
        let name = name_of(f);
        let scalar = matches!(name.as_str(), "min" | "max") && args_len(f) > 1;
        if f.over.is_some() || scalar || !is_aggregate(&name) {
            return ControlFlow::Continue(());
        }
        match split(engine, f, &name, partials) {
            Ok(merge) => {
                *e = Expr::Identifier(Ident::new(slot(merges.len())));
                merges.push(merge);
                ControlFlow::Continue(())
            }
            Err(why) => {
                refused = Some(format!("in `{column}`: {why}"));
                ControlFlow::Break(())
            }
        }
    });
    if let Some(why) = refused {
        return Err(why);
    }
    let mut outside = None;
    let _ = visit_expressions(&expr, |e| {
        let found = match e {
            Expr::Identifier(i) if i.value.starts_with("__backfill_merged_") => None,
            Expr::Identifier(_) | Expr::CompoundIdentifier(_) => {
                Some(format!("reads `{e}` outside an aggregate"))
            }
            _ => None,
        };
        match found {
            Some(what) => {
                outside = Some(what);
                ControlFlow::Break(())
            }
            None => ControlFlow::Continue(()),
        }
    });
    if expr.visit(&mut HasQuery).is_break() {
        outside = Some("has a subquery".to_string());
    }
    if let Some(what) = outside {
        return Err(format!(
            "`{column}` {what}: a chunk's partial aggregates cannot compute it"
        ));
    }
    let text = expr.to_string();
    let mut value = text.clone();
    let mut one = Some(text);
    for (i, (merge, single)) in merges.iter().enumerate() {
        value = value.replacen(&slot(i), merge, 1);
        one = one
            .zip(single.as_ref())
            .map(|(one, single)| one.replacen(&slot(i), single, 1));
    }
    Ok((value, one))
}

/// The index of partial `call` in `partials`, added if it is not there: `avg(x)` and `sum(x)`
/// share one `sum(x)`.
fn partial(partials: &mut Vec<String>, call: String) -> usize {
    match partials.iter().position(|p| *p == call) {
        Some(i) => i,
        None => {
            partials.push(call);
            partials.len() - 1
        }
    }
}

/// An identifier as the engine resolves it: PostgreSQL folds an unquoted name to lowercase.
fn resolved(engine: Engine, ident: &Ident) -> String {
    if engine == Engine::Postgres && ident.quote_style.is_none() {
        ident.value.to_lowercase()
    } else {
        ident.value.clone()
    }
}

/// Finds a subquery.
struct HasQuery;

impl Visitor for HasQuery {
    type Break = ();

    fn pre_visit_query(&mut self, _query: &Query) -> ControlFlow<()> {
        ControlFlow::Break(())
    }
}

fn args_len(f: &Function) -> usize {
    match &f.args {
        FunctionArguments::List(list) => list.args.len(),
        _ => 0,
    }
}

/// The partials of aggregate call `f` (appended to `partials`), its merge over them, and its
/// merge where a key has one partial row ([`merge_one`]).
fn split(
    engine: Engine,
    f: &Function,
    name: &str,
    partials: &mut Vec<String>,
) -> Result<(String, Option<String>), String> {
    let call = f.to_string();
    let merged = merge_of(name)?;
    if let FunctionArguments::List(list) = &f.args {
        if list.duplicate_treatment == Some(DuplicateTreatment::Distinct) {
            return Err(format!(
                "`{call}` counts distinct values, and a value seen in two chunks would count twice"
            ));
        }
        if !list.clauses.is_empty() {
            return Err(format!(
                "`{call}` has an ORDER BY or other clause inside its arguments, which partials cannot keep"
            ));
        }
    }
    if !f.within_group.is_empty() {
        return Err(format!("`{call}` is an ordered-set aggregate"));
    }
    let stage = |i: usize| {
        format!(
            "{}.{}",
            engine.quote_ident(STAGE_ALIAS),
            engine.quote_ident(&staged_partial(i))
        )
    };
    // The call as written, its name replaced: `avg(x) FILTER (...)` -> `sum(x) FILTER (...)`.
    let renamed = |to: &str| format!("{to}{}", &call[f.name.to_string().len()..]);
    match merged {
        Merged::One(merge) => {
            let p = stage(partial(partials, call.clone()));
            Ok((merge(engine, &p), merge_one(name, engine, &p)))
        }
        Merged::Avg => {
            let sum = stage(partial(partials, renamed("sum")));
            let count = stage(partial(partials, renamed("count")));
            let merged = match engine {
                Engine::Sqlite => format!("(CAST(sum({sum}) AS REAL) / NULLIF(sum({count}), 0))"),
                Engine::Postgres | Engine::MySql => {
                    format!("(sum({sum}) / NULLIF(sum({count}), 0))")
                }
            };
            Ok((merged, None))
        }
    }
}
