//! The mapping against the service's schema, when its migrations are found (`schema`): the
//! target table and every written column exist, the key is exactly a PRIMARY KEY or UNIQUE
//! index (and, on MySQL, the only unique key), no NOT NULL column without a default is left
//! out, every source table and column an expression names exists, and each field's Rust type
//! fits its column. Without migrations none of this runs, and preflight checks the live schema
//! at run time as before.

use super::facts::{ColumnRef, Shape};
use super::fragment::Parsed;
use crate::ast::{Container, Field};
use crate::ctxt::{Ctxt, Message};
use crate::model::{self, Engine};
use crate::schema::{self, closest, Loaded, Schema, Table};

/// Reads the migrations for the struct's engines; `None` when there are none (or they could not
/// be read, which is reported at `migrations = "..."` or at the struct).
pub fn load(cx: &Ctxt, cont: &Container, engines: &[Engine]) -> Option<Loaded> {
    let explicit = cont.attrs.migrations.as_ref();
    match schema::load(explicit.map(|l| l.value()).as_deref(), engines) {
        Ok(loaded) => loaded,
        Err(err) => {
            let message = match &err.message {
                None => Message::new(format!("no migrations directory `{}`", err.place))
                    .help("`migrations = \"...\"` (or the crate-wide `BACKFILL_MIGRATIONS`) is relative to the crate's Cargo.toml; without either, `migrations/` is used when it exists"),
                Some(why) => Message::new(format!("cannot replay the migration `{}`", err.place))
                    .note(why.clone())
                    .note("the derive replays the migrations to check the mapping against the schema they leave")
                    .help("fix the statement, or put `-- backfill: skip` just before one that shapes no table (a data fix, a `DO` block)"),
            };
            match explicit {
                Some(lit) => cx.error_spanned_by(lit, message),
                None => cx.error_spanned_by(cont.ident, message),
            }
            None
        }
    }
}

/// The columns of every table `from` reads (the target's own, in place without `from`), when
/// each of them is a table the migrations create: what an unqualified name can mean there.
pub fn source_columns(loaded: &Loaded, parsed: &Parsed) -> Option<Vec<String>> {
    let (_, schema) = loaded.schemas.first()?;
    let tables = source_tables(schema, parsed)?;
    Some(
        tables
            .iter()
            .flat_map(|(_, t)| t.columns.iter().map(|c| c.name.to_ascii_lowercase()))
            .collect(),
    )
}

/// The tables of `from` with the name they are referred to by (alias or last name part), or
/// the target itself without `from`; `None` when one is not a table of the schema.
fn source_tables<'s>(schema: &'s Schema, parsed: &Parsed) -> Option<Vec<(String, &'s Table)>> {
    let Some(from) = &parsed.from else {
        let target = schema.table(parsed.target.as_ref()?)?;
        return Some(vec![(target.name.last()?.to_ascii_lowercase(), target)]);
    };
    let facts = from.first()?;
    if facts.fan_out.is_some() && facts.tables.len() < 2 {
        return None; // a derived table or a table function: its columns are not a table's
    }
    facts
        .tables
        .iter()
        .map(|(parts, alias)| {
            let table = schema.table(parts)?;
            let name = alias.clone().or_else(|| parts.last().cloned())?;
            Some((name.to_ascii_lowercase(), table))
        })
        .collect()
}

/// What the runtime is told of each engine's schema: the target's columns and the statements
/// left out.
pub fn checked(loaded: &Loaded, target: &[String]) -> Vec<model::CheckedSchema> {
    loaded
        .schemas
        .iter()
        .filter_map(|(engine, schema)| {
            let table = schema.table(target)?;
            Some(model::CheckedSchema {
                engine: *engine,
                migrations: schema.source.clone(),
                skipped: schema.skipped.clone(),
                columns: table
                    .columns
                    .iter()
                    .map(|c| (c.name.clone(), c.data_type.clone(), c.not_null))
                    .collect(),
            })
        })
        .collect()
}

/// Every rule, for each engine's schema; each mistake is reported once, for the first engine
/// whose migrations show it.
pub fn check(cx: &Ctxt, parsed: &Parsed, loaded: &Loaded) {
    let Some(target_name) = &parsed.target else {
        return;
    };
    for (engine, schema) in &loaded.schemas {
        let errors_before = cx.error_count();
        let Some(target) = target_exists(cx, parsed, schema, &schema.source, target_name) else {
            break;
        };
        columns_exist(cx, parsed, target, &schema.source);
        key_is_a_unique_key(cx, parsed, *engine, target);
        if *engine == Engine::MySql && !parsed.cont.attrs.allow_other_unique_keys {
            no_other_unique_key(cx, parsed, target);
        }
        if !parsed.cont.in_place() {
            no_required_column_left_out(cx, parsed, target);
        }
        source_tables_and_columns_exist(cx, parsed, schema, &schema.source);
        let mistyped = types_fit(cx, parsed, *engine, target);
        expression_types_fit(cx, parsed, *engine, schema, target, &mistyped);
        if cx.error_count() > errors_before {
            break;
        }
    }
}

fn target_exists<'s>(
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
fn field_span(field: &Field, cx: &Ctxt, message: Message) {
    match &field.attrs.column {
        Some(lit) => cx.error_spanned_by(lit, message),
        None => cx.error_spanned_by(field.ident, message),
    }
}

fn columns_exist(cx: &Ctxt, parsed: &Parsed, target: &Table, dir: &str) {
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

fn key_is_a_unique_key(cx: &Ctxt, parsed: &Parsed, engine: Engine, target: &Table) {
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

fn no_other_unique_key(cx: &Ctxt, parsed: &Parsed, target: &Table) {
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

fn no_required_column_left_out(cx: &Ctxt, parsed: &Parsed, target: &Table) {
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

fn source_tables_and_columns_exist(cx: &Ctxt, parsed: &Parsed, schema: &Schema, dir: &str) {
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

/// The kind of a source column named by `r`: through its table's alias, or, unqualified, the
/// first table of `from` that has it.
fn source_kind(engine: Engine, tables: &[(String, &Table)], r: &ColumnRef) -> Option<Kind> {
    let table = match r.qualifier.as_slice() {
        [alias] => tables
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(alias))
            .map(|(_, t)| *t)?,
        [] => tables
            .iter()
            .map(|(_, t)| *t)
            .find(|t| t.column(&r.column).is_some())?,
        _ => return None,
    };
    column_kind(engine, &table.column(&r.column)?.data_type)
}

/// What an expression of `shape` yields, from the schema: `None` when not inferred.
fn shape_kind(engine: Engine, tables: &[(String, &Table)], shape: &Shape) -> Option<Kind> {
    match shape {
        Shape::Count => Some(Kind::Int(64)),
        Shape::Column(r) | Shape::MinMax(r) => source_kind(engine, tables, r),
        Shape::Sum(r) => match source_kind(engine, tables, r)? {
            Kind::Int(_) => Some(Kind::Int(64)),
            k @ (Kind::Float | Kind::Decimal) => Some(k),
            _ => None,
        },
        Shape::Avg(r) => match source_kind(engine, tables, r)? {
            Kind::Int(_) | Kind::Decimal => Some(Kind::Decimal),
            Kind::Float => Some(Kind::Float),
            _ => None,
        },
        Shape::Text => Some(Kind::Text),
        Shape::Cast(t) => column_kind(engine, t),
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Int(_) => "an integer",
        Kind::Float => "a floating-point number",
        Kind::Decimal => "a fractional number",
        Kind::Text => "text",
        Kind::Bytes => "bytes",
        Kind::Bool => "a boolean",
        Kind::Temporal => "a date or time",
    }
}

/// The value an expression computes against the column it is written to, where the schema
/// tells its type: `count(*)` into a TEXT column, `max(created_at)` into a BIGINT, `a || b`
/// into an integer, `avg(x)` into an integer column (which rounds it).
fn expression_types_fit(
    cx: &Ctxt,
    parsed: &Parsed,
    engine: Engine,
    schema: &Schema,
    target: &Table,
    mistyped: &[String],
) {
    let Some(tables) = source_tables(schema, parsed) else {
        return;
    };
    for (field, frag) in parsed.field_fragments() {
        if mistyped.contains(&field.field.column) {
            continue; // one error per field: its Rust type is already wrong for the column
        }
        let Some(column) = target.column(&field.field.column) else {
            continue;
        };
        let Some(col) = column_kind(engine, &column.data_type) else {
            continue;
        };
        let Some((_, facts)) = frag.facts.iter().find(|(e, _)| *e == engine) else {
            continue;
        };
        let Some(value) = facts
            .shape
            .as_ref()
            .and_then(|s| shape_kind(engine, &tables, s))
        else {
            continue;
        };
        let numeric = |k: Kind| matches!(k, Kind::Int(_) | Kind::Float | Kind::Decimal);
        let fits = match (value, col) {
            (Kind::Int(_), c) => numeric(c),
            (Kind::Float | Kind::Decimal, Kind::Int(_)) => false,
            (v, c) if numeric(v) => numeric(c),
            (v, c) => std::mem::discriminant(&v) == std::mem::discriminant(&c),
        };
        if fits {
            continue;
        }
        let rounds = numeric(value) && matches!(col, Kind::Int(_));
        let mut message = Message::new(format!(
            "{} computes {}, column `{}.{}` is `{}`",
            crate::ctxt::shown(&frag.lit.value()),
            kind_name(value),
            target.display(),
            column.name,
            column.data_type
        ));
        message = if rounds {
            message
                .note("the column would round it, so the backfill writes less than it computes")
                .help(
                    "round it yourself (`round(avg(x))`) or make the column NUMERIC in a migration",
                )
        } else {
            message
                .note("the engine would refuse it at run time, or (MySQL) convert it silently")
                .help("compute the column's type (a CAST, another aggregate), or change the column in a migration")
        };
        cx.error_spanned_by(frag.lit, message);
    }
}

/// What a column or a Rust type holds, as far as the check tells types apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// An integer of this many bits.
    Int(u8),
    Float,
    Decimal,
    Text,
    Bytes,
    Bool,
    /// A date, time or timestamp.
    Temporal,
}

fn column_kind(engine: Engine, data_type: &str) -> Option<Kind> {
    let t = data_type.to_ascii_uppercase();
    let base = t.split(['(', ' ']).next().unwrap_or_default();
    Some(match base {
        // SQLite stores every integer in up to 8 bytes, whatever the declared name.
        "INT" | "INTEGER" | "SMALLINT" | "TINYINT" | "MEDIUMINT" | "BIGINT" | "INT2" | "INT4"
        | "INT8"
            if engine == Engine::Sqlite =>
        {
            Kind::Int(64)
        }
        "BIGINT" | "INT8" | "BIGSERIAL" | "SERIAL8" => Kind::Int(64),
        "INT" | "INTEGER" | "INT4" | "SERIAL" | "SERIAL4" | "MEDIUMINT" => Kind::Int(32),
        "SMALLINT" | "INT2" | "SMALLSERIAL" => Kind::Int(16),
        "TINYINT" if t.starts_with("TINYINT(1)") => Kind::Bool,
        "TINYINT" => Kind::Int(8),
        "REAL" | "FLOAT" | "FLOAT4" | "FLOAT8" | "DOUBLE" => Kind::Float,
        "NUMERIC" | "DECIMAL" => Kind::Decimal,
        "TEXT" | "VARCHAR" | "CHAR" | "CHARACTER" | "CITEXT" | "TINYTEXT" | "MEDIUMTEXT"
        | "LONGTEXT" | "NVARCHAR" | "NCHAR" | "CLOB" => Kind::Text,
        "BYTEA" | "BLOB" | "BINARY" | "VARBINARY" | "TINYBLOB" | "MEDIUMBLOB" | "LONGBLOB" => {
            Kind::Bytes
        }
        "BOOLEAN" | "BOOL" => Kind::Bool,
        "DATE" | "TIME" | "TIMESTAMP" | "TIMESTAMPTZ" | "DATETIME" | "TIMETZ" => Kind::Temporal,
        _ => return None,
    })
}

/// The Rust type without `Option<...>`, and whether it was an option.
fn rust_kind(ty: &str) -> (Option<Kind>, bool) {
    let squeezed: String = ty.chars().filter(|c| !c.is_whitespace()).collect();
    let (inner, optional) = match squeezed
        .strip_prefix("Option<")
        .and_then(|s| s.strip_suffix('>'))
    {
        Some(inner) => (inner.to_string(), true),
        None => (squeezed, false),
    };
    let last = inner.rsplit("::").next().unwrap_or_default();
    let kind = match last {
        "i8" | "u8" => Some(Kind::Int(8)),
        "i16" | "u16" => Some(Kind::Int(16)),
        "i32" | "u32" => Some(Kind::Int(32)),
        "i64" | "u64" => Some(Kind::Int(64)),
        "f32" | "f64" => Some(Kind::Float),
        "String" | "str" | "&str" => Some(Kind::Text),
        "Vec<u8>" => Some(Kind::Bytes),
        "bool" => Some(Kind::Bool),
        "Decimal" | "BigDecimal" => Some(Kind::Decimal),
        "NaiveDateTime" | "NaiveDate" | "NaiveTime" | "OffsetDateTime" | "PrimitiveDateTime"
        | "Date" | "Time" => Some(Kind::Temporal),
        _ if last.starts_with("DateTime<") => Some(Kind::Temporal),
        _ => None,
    };
    (kind, optional)
}

/// Each field's Rust type against its column; the columns whose field was reported.
fn types_fit(cx: &Ctxt, parsed: &Parsed, engine: Engine, target: &Table) -> Vec<String> {
    let mut reported = Vec::new();
    for field in &parsed.cont.fields {
        let Some(column) = target.column(&field.column) else {
            continue;
        };
        let rust = crate::ast::type_name(field.ty);
        let (kind, optional) = rust_kind(&rust);
        let col = column_kind(engine, &column.data_type);
        let name = &field.column;
        let mismatch = match (kind, col) {
            (Some(Kind::Int(r)), Some(Kind::Int(c))) if r > c => Some(format!(
                "a {r}-bit integer does not fit in `{}` ({c} bits)",
                column.data_type
            )),
            (Some(r), Some(c)) if std::mem::discriminant(&r) != std::mem::discriminant(&c) => {
                Some(format!("`{rust}` is not what `{}` holds", column.data_type))
            }
            _ => None,
        };
        if let Some(why) = mismatch {
            let suggestion = match col {
                Some(Kind::Int(64)) => "i64",
                Some(Kind::Int(32)) => "i32",
                Some(Kind::Int(16)) => "i16",
                Some(Kind::Int(_)) => "i8",
                Some(Kind::Float) => "f64",
                Some(Kind::Text) => "String",
                Some(Kind::Bytes) => "Vec<u8>",
                Some(Kind::Bool) => "bool",
                _ => "a type sqlx maps to it",
            };
            cx.error_spanned_by(
                field.ty,
                Message::new(format!("field `{}` is `{rust}`, column `{}.{name}` is `{}`", field.ident, target.display(), column.data_type))
                    .note(why)
                    .help(format!("declare the field as `{suggestion}` (or `Option<{suggestion}>`), or change the column's type in a migration")),
            );
            reported.push(field.column.clone());
            continue;
        }
        if !column.not_null && !optional && kind.is_some() && field.attrs.key.is_none() {
            cx.error_spanned_by(
                field.ty,
                Message::new(format!("column `{}.{name}` can be NULL, field `{}` is `{rust}`", target.display(), field.ident))
                    .note("verify reads the stored row back into the struct, and a NULL does not fit a non-`Option` field")
                    .help(format!("declare it `Option<{rust}>`, or make the column NOT NULL in a migration")),
            );
        }
    }
    reported
}
