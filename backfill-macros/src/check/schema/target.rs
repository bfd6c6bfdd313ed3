//! The target table as the migrations leave it: it exists, has every written column, has a
//! unique key that is exactly the key (and, on MySQL, no other), and no NOT NULL column without a
//! default is left out.

use super::super::fragment::Parsed;
use crate::ast::Field;
use crate::ctxt::{Ctxt, Message};
use crate::model::Engine;
use crate::schema::{closest, Schema, Table};

pub(super) fn target_exists<'s>(
    cx: &Ctxt,
    parsed: &Parsed,
    schema: &'s Schema,
    dir: &str,
    name: &[String],
) -> Option<&'s Table> {
    if let Some(table) = schema.table(name) {
        return Some(table);
    }
    let shown = name.join(".");
    let names = schema.table_names();
    let mut message = Message::new(format!(
        "no migration in `{dir}` creates the table `{shown}`"
    ));
    if let Some(near) = closest(&shown, names.iter().map(String::as_str)) {
        message = message.help(format!("did you mean `{near}`?"));
    }
    message = message.help(format!("create it in a migration, or point `migrations = \"...\"` at the migrations of the database `{shown}` is in"));
    if let Some(lit) = &parsed.cont.attrs.table {
        cx.error_spanned_by(lit, message);
    }
    None
}

/// Where a field's errors point: its `column = "..."`, else its name.
pub(super) fn field_span(field: &Field, cx: &Ctxt, message: Message) {
    match &field.attrs.column {
        Some(lit) => cx.error_spanned_by(lit, message),
        None => cx.error_spanned_by(field.ident, message),
    }
}

pub(super) fn columns_exist(cx: &Ctxt, parsed: &Parsed, target: &Table, dir: &str) {
    let names: Vec<&str> = target.columns.iter().map(|c| c.name.as_str()).collect();
    for field in &parsed.cont.fields {
        if target.column(&field.column).is_some() {
            continue;
        }
        let column = &field.column;
        let table = target.display();
        let message = Message::new(format!("table `{table}` has no column `{column}`"))
            .note(format!("as the migrations in `{dir}` leave it"));
        let add = format!("add it in a migration: `ALTER TABLE {table} ADD COLUMN {column} ...`");
        let message = match closest(column, names.iter().copied()) {
            Some(near) => message
                .help(format!(
                    "did you mean `{near}`? (`column = \"{near}\"`, or rename the field)"
                ))
                .help(format!("or {add}")),
            None => message.help(add),
        };
        field_span(field, cx, message);
    }
}

pub(super) fn key_is_a_unique_key(cx: &Ctxt, parsed: &Parsed, engine: Engine, target: &Table) {
    let keys: Vec<&str> = parsed
        .cont
        .key_fields()
        .map(|f| f.column.as_str())
        .collect();
    if keys.is_empty() || keys.iter().any(|k| target.column(k).is_none()) {
        return;
    }
    let same = |cols: &[String]| {
        cols.len() == keys.len()
            && keys
                .iter()
                .all(|k| cols.iter().any(|c| c.eq_ignore_ascii_case(k)))
    };
    if target.unique_keys.iter().any(|u| same(&u.columns)) {
        return;
    }
    let table = target.display();
    let index = format!(
        "{}_{}_key",
        target.name.last().map_or("t", String::as_str),
        keys.join("_")
    );
    let quoted: Vec<String> = keys.iter().map(|k| engine.quote_ident(k)).collect();
    let ddl = format!(
        "CREATE UNIQUE INDEX {} ON {} ({})",
        engine.quote_ident(&index),
        engine.quote_table(&table),
        quoted.join(", ")
    );
    let Some(first) = parsed.cont.key_fields().next() else {
        return;
    };
    let Some(span) = first.attrs.key else { return };
    cx.error_spanned_by(
        syn::Ident::new("key", span),
        Message::new(format!("no PRIMARY KEY or UNIQUE index of `{table}` is exactly ({})", keys.join(", ")))
            .note("the upsert conflicts on the key: PostgreSQL and SQLite refuse an ON CONFLICT no unique index matches, and MySQL would update whatever row another unique key hits")
            .help(format!("add it in a migration: `{ddl};`")),
    );
}

pub(super) fn no_other_unique_key(cx: &Ctxt, parsed: &Parsed, target: &Table) {
    let keys: Vec<&str> = parsed
        .cont
        .key_fields()
        .map(|f| f.column.as_str())
        .collect();
    let same = |cols: &[String]| {
        cols.len() == keys.len()
            && keys
                .iter()
                .all(|k| cols.iter().any(|c| c.eq_ignore_ascii_case(k)))
    };
    let Some(other) = target.unique_keys.iter().find(|u| !same(&u.columns)) else {
        return;
    };
    let name = other.name.clone().unwrap_or_else(|| {
        if other.primary {
            "PRIMARY".into()
        } else {
            "a unique key".into()
        }
    });
    let shown = if other.columns.is_empty() {
        "an expression".to_string()
    } else {
        other.columns.join(", ")
    };
    let Some(lit) = &parsed.cont.attrs.table else {
        return;
    };
    cx.error_spanned_by(
        lit,
        Message::new(format!("`{}` has another unique key, `{name}` ({shown})", target.display()))
            .note("on MySQL, ON DUPLICATE KEY UPDATE updates the row that any unique key matches, so a row conflicting on it would overwrite another key's row")
            .help("add `allow_other_unique_keys` to the struct if that key can never conflict for rows this backfill writes"),
    );
}

pub(super) fn no_required_column_left_out(cx: &Ctxt, parsed: &Parsed, target: &Table) {
    let written = |name: &str| {
        parsed
            .cont
            .fields
            .iter()
            .any(|f| f.column.eq_ignore_ascii_case(name))
    };
    let missing: Vec<&str> = target
        .columns
        .iter()
        .filter(|c| c.not_null && !c.has_default && !written(&c.name))
        .map(|c| c.name.as_str())
        .collect();
    let (Some(first), Some(lit)) = (missing.first(), &parsed.cont.attrs.table) else {
        return;
    };
    cx.error_spanned_by(
        lit,
        Message::new(format!(
            "`{}` needs `{}`: NOT NULL, no default, and no field writes it",
            target.display(),
            missing.join("`, `")
        ))
        .note("every insert of the upsert would fail on it")
        .help(format!(
            "add a field for `{first}`, or give it a DEFAULT in a migration"
        )),
    );
}
