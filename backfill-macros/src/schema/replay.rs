//! One migration file replayed onto a [`Schema`]: split into statements by sqlparser's tokenizer
//! (so a `;` inside a string or a `$$` body does not split), each parsed in the engine's dialect
//! and applied when it shapes tables (CREATE/DROP/RENAME TABLE, ALTER TABLE, CREATE/DROP INDEX).
//! Statements that do not (INSERT, GRANT, CREATE FUNCTION, COMMENT, ...) change nothing. A
//! statement that does not parse is an error with its line, unless a `-- backfill: skip`
//! comment inside or just before it says to leave it out.

use sqlparser::ast::{
    AlterColumnOperation, AlterTableOperation, ColumnDef, ColumnOption, Expr, IndexColumn,
    ObjectName, ObjectType, RenameTableNameKind, Statement, TableConstraint,
};
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer, Whitespace};

use super::{Column, Schema, Table, UniqueKey};
use crate::dialect::dialect;
use crate::model::Engine;

/// Replays `text` onto `schema`; the lines of the statements skipped, or the line and message of
/// the first statement that cannot be read.
pub fn replay(
    engine: Engine,
    schema: &mut Schema,
    text: &str,
) -> Result<Vec<usize>, (usize, String)> {
    let dialect = dialect(engine);
    let tokens = Tokenizer::new(dialect.as_ref(), text)
        .tokenize_with_location()
        .map_err(|e| (e.location.line as usize, e.message))?;
    let mut skipped = Vec::new();
    for chunk in statements(tokens) {
        let Some(first) = chunk.iter().find(|t| !is_trivia(&t.token)) else {
            continue;
        };
        let line = first.span.start.line as usize;
        if chunk.iter().any(|t| is_skip_marker(&t.token)) {
            skipped.push(line);
            continue;
        }
        let statement = Parser::new(dialect.as_ref())
            .with_tokens_with_locations(chunk)
            .parse_statement()
            .map_err(|e| {
                let message = e.to_string().replace("sql parser error: ", "");
                (
                    line,
                    format!("the {} parser: {message}", engine.display_name()),
                )
            })?;
        apply(schema, statement).map_err(|message| (line, message))?;
    }
    Ok(skipped)
}

/// Tokens split at top-level semicolons; a comment before a statement goes with it.
fn statements(tokens: Vec<TokenWithSpan>) -> Vec<Vec<TokenWithSpan>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    for t in tokens {
        match t.token {
            Token::SemiColon => out.push(std::mem::take(&mut current)),
            Token::EOF => {}
            _ => current.push(t),
        }
    }
    out.push(current);
    out
}

fn is_trivia(token: &Token) -> bool {
    matches!(token, Token::Whitespace(_))
}

fn is_skip_marker(token: &Token) -> bool {
    let comment = match token {
        Token::Whitespace(Whitespace::SingleLineComment { comment, .. }) => comment,
        Token::Whitespace(Whitespace::MultiLineComment(comment)) => comment,
        _ => return false,
    };
    let squeezed: String = comment
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    squeezed.starts_with("backfill:skip")
}

fn parts(name: &ObjectName) -> Vec<String> {
    name.0
        .iter()
        .filter_map(|p| p.as_ident())
        .map(|i| i.value.clone())
        .collect()
}

/// The plain column names of an index, or empty when any part is an expression.
fn index_columns(columns: &[IndexColumn]) -> Vec<String> {
    let names: Vec<Option<String>> = columns
        .iter()
        .map(|c| match &c.column.expr {
            Expr::Identifier(id) => Some(id.value.clone()),
            _ => None,
        })
        .collect();
    if names.iter().all(Option::is_some) {
        names.into_iter().flatten().collect()
    } else {
        Vec::new()
    }
}

fn column(def: &ColumnDef, table: &mut Table) -> Column {
    let data_type = def.data_type.to_string().to_ascii_uppercase();
    let mut col = Column {
        name: def.name.value.clone(),
        has_default: data_type.contains("SERIAL"),
        data_type,
        not_null: false,
    };
    for option in &def.options {
        column_option(&mut col, &option.option, table);
    }
    col
}

fn column_option(col: &mut Column, option: &ColumnOption, table: &mut Table) {
    match option {
        ColumnOption::NotNull => col.not_null = true,
        ColumnOption::Null => col.not_null = false,
        ColumnOption::Default(_) | ColumnOption::Generated { .. } => col.has_default = true,
        ColumnOption::DialectSpecific(tokens) => {
            let text: String = tokens
                .iter()
                .map(|t| t.to_string().to_ascii_uppercase())
                .collect();
            if text.contains("AUTO_INCREMENT") || text.contains("AUTOINCREMENT") {
                col.has_default = true;
            }
        }
        ColumnOption::PrimaryKey(_) => {
            col.not_null = true;
            table.unique_keys.push(UniqueKey {
                name: None,
                columns: vec![col.name.clone()],
                primary: true,
            });
        }
        ColumnOption::Unique(_) => table.unique_keys.push(UniqueKey {
            name: None,
            columns: vec![col.name.clone()],
            primary: false,
        }),
        _ => {}
    }
}

fn constraint(table: &mut Table, constraint: &TableConstraint) {
    match constraint {
        TableConstraint::PrimaryKey(pk) => {
            let columns = index_columns(&pk.columns);
            for name in &columns {
                if let Some(c) = table.column_mut(name) {
                    c.not_null = true;
                }
            }
            table.unique_keys.push(UniqueKey {
                name: pk.name.as_ref().map(|n| n.value.clone()),
                columns,
                primary: true,
            });
        }
        TableConstraint::Unique(u) => table.unique_keys.push(UniqueKey {
            name: u
                .name
                .as_ref()
                .or(u.index_name.as_ref())
                .map(|n| n.value.clone()),
            columns: index_columns(&u.columns),
            primary: false,
        }),
        _ => {}
    }
}

fn table_mut<'s>(schema: &'s mut Schema, name: &ObjectName) -> Result<&'s mut Table, String> {
    let parts = parts(name);
    let index = schema.table_index(&parts).ok_or_else(|| {
        format!(
            "`{}` is altered before any migration creates it",
            parts.join(".")
        )
    })?;
    Ok(&mut schema.tables[index])
}

/// Applies one statement; an error when it names a table or column the earlier migrations do
/// not have (the replay would go on from a wrong schema).
fn apply(schema: &mut Schema, statement: Statement) -> Result<(), String> {
    match statement {
        Statement::CreateTable(create) => {
            let name = parts(&create.name);
            if schema.table(&name).is_some() {
                if create.if_not_exists {
                    return Ok(());
                }
                if let Some(i) = schema.table_index(&name) {
                    schema.tables.remove(i);
                }
            }
            let mut table = Table {
                name,
                columns: Vec::new(),
                unique_keys: Vec::new(),
            };
            for def in &create.columns {
                let col = column(def, &mut table);
                table.columns.push(col);
            }
            for c in &create.constraints {
                constraint(&mut table, c);
            }
            schema.tables.push(table);
        }
        Statement::Drop {
            object_type,
            names,
            table: on_table,
            ..
        } => match object_type {
            ObjectType::Table => {
                for name in &names {
                    if let Some(i) = schema.table_index(&parts(name)) {
                        schema.tables.remove(i);
                    }
                }
            }
            ObjectType::Index => {
                for name in &names {
                    let index = parts(name).last().cloned().unwrap_or_default();
                    let tables = schema.tables.iter_mut().filter(|t| {
                        on_table
                            .as_ref()
                            .is_none_or(|on| super::same_name(&t.name, &parts(on)))
                    });
                    for table in tables {
                        table.unique_keys.retain(|k| {
                            !k.name
                                .as_ref()
                                .is_some_and(|n| n.eq_ignore_ascii_case(&index))
                        });
                    }
                }
            }
            _ => {}
        },
        Statement::CreateIndex(index) if index.unique => {
            let table = table_mut(schema, &index.table_name)?;
            table.unique_keys.push(UniqueKey {
                name: index.name.as_ref().and_then(|n| parts(n).last().cloned()),
                columns: index_columns(&index.columns),
                primary: false,
            });
        }
        Statement::RenameTable(renames) => {
            for r in renames {
                let new = parts(&r.new_name);
                table_mut(schema, &r.old_name)?.name = new;
            }
        }
        Statement::AlterTable(alter) => {
            let table = match table_mut(schema, &alter.name) {
                Ok(t) => t,
                Err(_) if alter.if_exists => return Ok(()),
                Err(e) => return Err(e),
            };
            for op in alter.operations {
                alter_table(table, op)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn alter_table(table: &mut Table, op: AlterTableOperation) -> Result<(), String> {
    let shown = table.display();
    let missing =
        |c: &str| format!("`{shown}` has no column `{c}` at this point of the migrations");
    match op {
        AlterTableOperation::AddColumn {
            column_def,
            if_not_exists,
            ..
        } => {
            if if_not_exists && table.column(&column_def.name.value).is_some() {
                return Ok(());
            }
            let col = column(&column_def, table);
            table.columns.push(col);
        }
        AlterTableOperation::DropColumn {
            column_names,
            if_exists,
            ..
        } => {
            for name in column_names {
                if table.column(&name.value).is_none() && !if_exists {
                    return Err(missing(&name.value));
                }
                table
                    .columns
                    .retain(|c| !c.name.eq_ignore_ascii_case(&name.value));
                table.unique_keys.retain(|k| {
                    !k.columns
                        .iter()
                        .any(|c| c.eq_ignore_ascii_case(&name.value))
                });
            }
        }
        AlterTableOperation::RenameColumn {
            old_column_name,
            new_column_name,
        } => rename_column(table, &old_column_name.value, &new_column_name.value)
            .ok_or_else(|| missing(&old_column_name.value))?,
        AlterTableOperation::RenameTable { table_name } => {
            let (RenameTableNameKind::As(name) | RenameTableNameKind::To(name)) = table_name;
            table.name = parts(&name);
        }
        AlterTableOperation::ChangeColumn {
            old_name,
            new_name,
            data_type,
            options,
            ..
        } => {
            rename_column(table, &old_name.value, &new_name.value)
                .ok_or_else(|| missing(&old_name.value))?;
            redefine(table, &new_name.value, &data_type, &options);
        }
        AlterTableOperation::ModifyColumn {
            col_name,
            data_type,
            options,
            ..
        } => {
            if table.column(&col_name.value).is_none() {
                return Err(missing(&col_name.value));
            }
            redefine(table, &col_name.value, &data_type, &options);
        }
        AlterTableOperation::AlterColumn { column_name, op } => {
            let col = table
                .column_mut(&column_name.value)
                .ok_or_else(|| missing(&column_name.value))?;
            match op {
                AlterColumnOperation::SetNotNull => col.not_null = true,
                AlterColumnOperation::DropNotNull => col.not_null = false,
                AlterColumnOperation::SetDefault { .. }
                | AlterColumnOperation::AddGenerated { .. } => col.has_default = true,
                AlterColumnOperation::DropDefault => col.has_default = false,
                AlterColumnOperation::SetDataType { data_type, .. } => {
                    col.data_type = data_type.to_string().to_ascii_uppercase()
                }
                _ => {}
            }
        }
        AlterTableOperation::AddConstraint { constraint: c, .. } => constraint(table, &c),
        AlterTableOperation::DropConstraint { name, .. }
        | AlterTableOperation::DropIndex { name } => {
            table.unique_keys.retain(|k| {
                !k.name
                    .as_ref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(&name.value))
            });
        }
        AlterTableOperation::DropPrimaryKey { .. } => table.unique_keys.retain(|k| !k.primary),
        _ => {}
    }
    Ok(())
}

fn rename_column(table: &mut Table, old: &str, new: &str) -> Option<()> {
    table.column_mut(old)?.name = new.to_string();
    for key in &mut table.unique_keys {
        for c in &mut key.columns {
            if c.eq_ignore_ascii_case(old) {
                *c = new.to_string();
            }
        }
    }
    Some(())
}

/// MySQL's MODIFY/CHANGE: the column is defined anew (type, nullability, default).
fn redefine(
    table: &mut Table,
    name: &str,
    data_type: &sqlparser::ast::DataType,
    options: &[ColumnOption],
) {
    let def = ColumnDef {
        name: sqlparser::ast::Ident::new(name),
        data_type: data_type.clone(),
        options: options
            .iter()
            .map(|o| sqlparser::ast::ColumnOptionDef {
                name: None,
                option: o.clone(),
            })
            .collect(),
    };
    let col = column(&def, table);
    if let Some(existing) = table.column_mut(name) {
        *existing = col;
    }
}
