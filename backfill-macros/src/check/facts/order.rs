//! Whether a result depends on the order rows arrive in: an order-sensitive aggregate or a
//! row pick (`LIMIT`, `DISTINCT ON`) whose ORDER BY leaves rows tied that differ.

use std::ops::ControlFlow;

use sqlparser::ast::{
    visit_expressions, Distinct, Expr, Function, FunctionArgumentClause, FunctionArguments,
    GroupByExpr, OrderByKind, Query, Select, SelectItem, SetExpr, Value,
};

use super::names::{arg_expr, args, function_name};
use super::{column_ref, OrderDependence};
use crate::dialect::AGGREGATES;

/// The columns `expr` reads (subqueries included), lowercased and dot-joined (`t.name`).
pub(super) fn columns_read(expr: &Expr) -> Vec<String> {
    let mut columns = Vec::new();
    let _ = visit_expressions(expr, |e| {
        if matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_)) {
            if let Some(r) = column_ref(e) {
                columns.push(r.display().to_ascii_lowercase());
            }
        }
        ControlFlow::<()>::Continue(())
    });
    columns
}

/// `t.name` and `name` are the same column when one of them is unqualified.
pub(super) fn same_column(a: &str, b: &str) -> bool {
    a == b
        || (a.rsplit('.').next() == b.rsplit('.').next() && (!a.contains('.') || !b.contains('.')))
}

/// The first column of `values` that rows tied on `order` can differ in: none when each value
/// is itself an ORDER BY item, or every column it reads is one. Rows the ORDER BY leaves tied
/// then carry the same values, so the order they come in cannot change the result. (What it
/// cannot see: a collation that ties different strings, `'a'` and `'A'` under MySQL's `_ci`
/// collations.)
pub(super) fn first_unordered(values: &[&Expr], order: &[&Expr]) -> Option<String> {
    let order: Vec<String> = order
        .iter()
        .map(|e| e.to_string().to_ascii_lowercase())
        .collect();
    values.iter().find_map(|value| {
        if order.contains(&value.to_string().to_ascii_lowercase()) {
            return None;
        }
        columns_read(value)
            .into_iter()
            .find(|c| !order.iter().any(|o| same_column(o, c)))
    })
}

/// An order-sensitive aggregate's dependence on row order, if its ORDER BY (inside the call,
/// or `WITHIN GROUP`) does not order every value it aggregates.
pub(super) fn aggregate_order(name: &str, f: &Function) -> Option<OrderDependence> {
    let mut order: Vec<&Expr> = f.within_group.iter().map(|o| &o.expr).collect();
    if let FunctionArguments::List(list) = &f.args {
        for clause in &list.clauses {
            if let FunctionArgumentClause::OrderBy(items) = clause {
                order.extend(items.iter().map(|o| &o.expr));
            }
        }
    }
    let values: Vec<&Expr> = args(f).into_iter().filter_map(arg_expr).collect();
    let column = first_unordered(&values, &order)?;
    Some(if order.is_empty() {
        OrderDependence::UnorderedAggregate(name.to_string())
    } else {
        OrderDependence::AggregateTie(name.to_string(), column)
    })
}

/// Whether `expr` calls an aggregate (not windowed).
pub(super) fn has_aggregate(expr: &Expr) -> bool {
    visit_expressions(expr, |e| match e {
        Expr::Function(f)
            if f.over.is_none() && AGGREGATES.contains(&function_name(f).as_str()) =>
        {
            ControlFlow::Break(())
        }
        _ => ControlFlow::Continue(()),
    })
    .is_break()
}

/// A query that picks some of its rows (`LIMIT`, `OFFSET`, `FETCH`, `TOP`, `DISTINCT ON`)
/// without an ORDER BY that tells them apart: the rows it may pick differ in what it selects
/// (the group keys, when grouped). A select list of constants, or one aggregate row, picks the
/// same whichever rows it gets.
pub(super) fn pick_order(query: &Query) -> Option<OrderDependence> {
    let select: Option<&Select> = match query.body.as_ref() {
        SetExpr::Select(s) => Some(s),
        _ => None,
    };
    let distinct_on = select.is_some_and(|s| matches!(s.distinct, Some(Distinct::On(_))));
    let clause = if let Some(limit) = &query.limit_clause {
        limit.to_string()
    } else if let Some(fetch) = &query.fetch {
        fetch.to_string()
    } else if let Some(top) = select.and_then(|s| s.top.as_ref()) {
        top.to_string()
    } else if distinct_on {
        "DISTINCT ON".to_string()
    } else {
        return None;
    };
    let clause = clause.trim().to_string();
    let order: Vec<&Expr> = match query.order_by.as_ref().map(|o| &o.kind) {
        Some(OrderByKind::Expressions(items)) => items.iter().map(|o| &o.expr).collect(),
        _ => Vec::new(),
    };
    // `FETCH ... WITH TIES` returns every row tied with the last one kept: which rows come out
    // depends on the ORDER BY alone, whatever order tied rows arrive in (unless an OFFSET cuts
    // through a tie first).
    let with_ties = query.fetch.as_ref().is_some_and(|f| f.with_ties);
    if with_ties && query.limit_clause.is_none() && !distinct_on && !order.is_empty() {
        return None;
    }
    let unordered = match select {
        None => Some("*".to_string()),
        Some(select) => select_unordered(select, &order),
    };
    let column = unordered?;
    Some(if order.is_empty() {
        OrderDependence::UnorderedPick(clause)
    } else {
        OrderDependence::PickTie(clause, column)
    })
}

/// What rows of `select` tied on `order` can differ in (see [`pick_order`]); ORDER BY items
/// naming a select item by position (`ORDER BY 2`) or alias stand for its expression.
pub(super) fn select_unordered(select: &Select, order: &[&Expr]) -> Option<String> {
    let mut items = Vec::new();
    let mut aliases = Vec::new();
    for item in &select.projection {
        match item {
            SelectItem::UnnamedExpr(e) => items.push(e),
            SelectItem::ExprWithAlias { expr, alias } => {
                aliases.push((alias.value.to_ascii_lowercase(), expr));
                items.push(expr);
            }
            SelectItem::ExprWithAliases { expr, .. } => items.push(expr),
            _ => return Some("*".to_string()),
        }
    }
    let order: Vec<&Expr> = order
        .iter()
        .map(|o| match o {
            Expr::Value(v) => match &v.value {
                Value::Number(n, _) => n
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| items.get(i.wrapping_sub(1)).copied())
                    .unwrap_or(o),
                _ => o,
            },
            Expr::Identifier(id) => aliases
                .iter()
                .find(|(a, _)| *a == id.value.to_ascii_lowercase())
                .map_or(*o, |(_, e)| *e),
            _ => o,
        })
        .collect();
    match &select.group_by {
        GroupByExpr::Expressions(keys, _) if !keys.is_empty() => {
            first_unordered(&keys.iter().collect::<Vec<_>>(), &order)
        }
        GroupByExpr::All(_) => Some("*".to_string()),
        _ if items.iter().any(|e| has_aggregate(e)) => None,
        _ => first_unordered(&items, &order),
    }
}
