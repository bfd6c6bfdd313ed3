//! The source as the migrations leave it: every table `from` reads and every column an
//! expression or `filter` names, through aliases, exists.

use super::super::fragment::Parsed;
use super::source_tables;
use super::target::field_span;
use crate::ctxt::{Ctxt, Message};
use crate::schema::{closest, Schema};

pub(super) fn source_tables_and_columns_exist(
    cx: &Ctxt,
    parsed: &Parsed,
    schema: &Schema,
    dir: &str,
) {
    let Some(from) = &parsed.from else { return };
    let Some(facts) = from.first() else { return };
    let names = schema.table_names();
    for (parts, _) in &facts.tables {
        if schema.table(parts).is_some() {
            continue;
        }
        let shown = parts.join(".");
        let mut message = Message::new(format!(
            "`from` reads `{shown}`, which no migration in `{dir}` creates"
        ));
        if let Some(near) = closest(&shown, names.iter().map(String::as_str)) {
            message = message.help(format!("did you mean `{near}`?"));
        }
        cx.error_spanned_by(from.lit, message.help("a table created outside the migrations cannot be checked: point `migrations = \"...\"` at the ones that create it"));
        return;
    }
    let Some(tables) = source_tables(schema, parsed) else {
        return;
    };
    let is_source = |name: &str| tables.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    let all_columns: Vec<&str> = tables
        .iter()
        .flat_map(|(_, t)| t.columns.iter().map(|c| c.name.as_str()))
        .collect();
    let fragments = parsed
        .field_fragments()
        .map(|(_, frag)| frag)
        .chain(&parsed.filter)
        .chain(std::iter::once(from));
    for frag in fragments {
        let Some(f) = frag.first() else { continue };
        let qualified = f
            .qualified
            .iter()
            .filter(|r| r.qualifier.len() == 1)
            .find_map(|r| {
                let (_, table) = tables
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(&r.qualifier[0]))?;
                table
                    .column(&r.column)
                    .is_none()
                    .then(|| (r.display(), *table))
            });
        if let Some((shown, table)) = qualified {
            let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
            let column = shown.rsplit('.').next().unwrap_or_default();
            let mut message = Message::new(format!(
                "`{shown}`: table `{}` has no column `{column}`",
                table.display()
            ));
            if let Some(near) = closest(column, names.iter().copied()) {
                message = message.help(format!("did you mean `{near}`?"));
            }
            cx.error_spanned_by(frag.lit, message);
            continue;
        }
        let unknown = f.unqualified.iter().find(|c| {
            !is_source(c)
                && !all_columns.iter().any(|a| a.eq_ignore_ascii_case(c))
                && !parsed
                    .cont
                    .fields
                    .iter()
                    .any(|fl| fl.column.eq_ignore_ascii_case(c))
        });
        if let Some(column) = unknown {
            let mut message = Message::new(format!("no table of `from` has a column `{column}`"));
            if let Some(near) = closest(column, all_columns.iter().copied()) {
                message = message.help(format!("did you mean `{near}`?"));
            }
            cx.error_spanned_by(frag.lit, message);
        }
    }
    for field in parsed
        .cont
        .fields
        .iter()
        .filter(|f| f.attrs.expr.is_none() && f.attrs.engine_exprs.iter().all(Option::is_none))
    {
        if parsed.from.is_some()
            && !all_columns
                .iter()
                .any(|a| a.eq_ignore_ascii_case(&field.column))
        {
            field_span(
                field,
                cx,
                Message::new(format!(
                    "field `{}` copies `{}`, which no table of `from` has",
                    field.ident, field.column
                ))
                .help(format!(
                    "give it an `expr = \"...\"` saying where `{}` comes from",
                    field.column
                )),
            );
        }
    }
}
