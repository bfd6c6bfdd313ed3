//! Tokens: the `Backfill` impl with the whole `Definition` as `'static` data, the inherent
//! `run_backfill`/`check`/`verify`/`sql`/`definition` methods, and `sqlx::FromRow` per engine
//! whose reads assert that every field's type binds on that engine; on error, the errors and
//! [`fallback`](crate::fallback)'s stand-ins. Hygienic: every item is named by absolute path
//! through `::backfill::__private`, nothing is imported into the user's module. The tests
//! snapshot the whole output of a few structs, formatted with prettyplease.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::DeriveInput;

use crate::ast::{Container, Field};
use crate::check;
use crate::ctxt::Ctxt;
use crate::fallback;
use crate::model::{Backfill, Column, Engine, KeyKind};
use crate::sql;

/// The whole derive: read, check, generate SQL, emit tokens; on error, the errors and a
/// stand-in impl (see [`fallback`]).
pub fn derive(input: &DeriveInput) -> TokenStream {
    let tokens = match expand(input) {
        Ok(tokens) => tokens,
        Err(errors) => fallback::expand(input, &errors),
    };
    let tracked = tracked_migrations();
    quote!(#tokens #tracked)
}

fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let cx = Ctxt::new();
    let checked = Container::from_ast(&cx, input)
        .and_then(|cont| check::check(&cx, &cont).map(|model| (cont, model)));
    cx.check()?;
    // `None` only with an error recorded, which `cx.check()` returned above.
    let (cont, model) =
        checked.ok_or_else(|| syn::Error::new_spanned(&input.ident, "invalid backfill"))?;
    Ok(impls(input, &cont, &model))
}

/// The path the generated code names the runtime's items by.
pub fn private() -> TokenStream {
    quote!(::backfill::__private)
}

/// The trait impl, the inherent methods and a `FromRow` per engine.
fn impls(input: &DeriveInput, cont: &Container, model: &Backfill) -> TokenStream {
    let key_types = cont.key_fields().map(|f| f.ty);
    let backfill = impl_backfill(input, quote!(( #(#key_types,)* )), &definition(model));
    let methods = inherent_methods(input, &model.table);
    let from_rows = Engine::ALL
        .iter()
        .filter(|e| model.engines.contains(e))
        .map(|e| from_row(cont, *e));
    quote! {
        #backfill
        #methods
        #(#from_rows)*
    }
}

/// `include_bytes!` of every migration this expansion read, so Cargo rebuilds the crate when one
/// changes (also after an error: fixing the migration must rebuild).
pub fn tracked_migrations() -> TokenStream {
    let files = crate::schema::take_read_files();
    if files.is_empty() {
        return TokenStream::new();
    }
    quote! {
        const _: () = { #( let _ = ::core::include_bytes!(#files); )* };
    }
}

/// `impl Backfill`: the key type and the whole definition as `'static` data.
pub fn impl_backfill(
    input: &DeriveInput,
    key: TokenStream,
    definition: &TokenStream,
) -> TokenStream {
    let private = private();
    let ident = &input.ident;
    // Generic structs are refused; only the fallback of one gets here with parameters.
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        #[automatically_derived]
        impl #impl_generics #private::Backfill for #ident #ty_generics #where_clause {
            type Key = #key;
            const DEFINITION: &'static #private::Definition = &#definition;
        }
    }
}

/// `run_backfill`, `check`, `verify`, `sql` and `definition` on the struct itself, so a
/// service needs no trait in scope.
pub fn inherent_methods(input: &DeriveInput, table: &str) -> TokenStream {
    let private = private();
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let name = ident.to_string();
    let run_doc = format!(
        "Runs (or resumes) the `{name}` backfill into `{table}` on `pool`: preflight, then one transaction per key range, the cursor committed with the data."
    );
    let check_doc = format!(
        "Preflight only for the `{name}` backfill: checks `{table}` (columns, the unique index on the key) and prepares every statement; writes nothing."
    );
    let verify_doc = format!(
        "Recomputes every range of the `{name}` backfill read-only and compares it with `{table}`."
    );
    quote! {
        #[automatically_derived]
        impl #impl_generics #ident #ty_generics #where_clause {
            #[doc = #run_doc]
            pub async fn run_backfill<P: #private::BackfillPool>(
                pool: &P,
                options: #private::RunOptions,
            ) -> ::core::result::Result<#private::Report, #private::Error> {
                #private::BackfillPool::run_backfill(
                    pool,
                    <Self as #private::Backfill>::DEFINITION,
                    options,
                )
                .await
            }

            #[doc = #check_doc]
            pub async fn check<P: #private::BackfillPool>(
                pool: &P,
            ) -> ::core::result::Result<(), #private::Error> {
                #private::BackfillPool::check(pool, <Self as #private::Backfill>::DEFINITION).await
            }

            #[doc = #verify_doc]
            pub async fn verify<P: #private::BackfillPool>(
                pool: &P,
            ) -> ::core::result::Result<#private::VerifyReport, #private::Error> {
                #private::BackfillPool::verify(pool, <Self as #private::Backfill>::DEFINITION).await
            }

            /// The generated statements for `engine`, for review; `None` when this backfill
            /// was not generated for it.
            pub fn sql(engine: #private::Engine) -> ::core::option::Option<&'static #private::Statements> {
                <Self as #private::Backfill>::DEFINITION.statements(engine)
            }

            /// The whole generated definition: table, source, key, columns and statements.
            pub fn definition() -> &'static #private::Definition {
                <Self as #private::Backfill>::DEFINITION
            }
        }
    }
}

/// The `Definition` literal: the model's settings, key, columns and statements per engine.
pub fn definition(model: &Backfill) -> TokenStream {
    let private = private();
    let name = &model.name;
    let table = &model.table;
    let from = model.from.as_deref().unwrap_or_default();
    let in_place = model.in_place;
    let filter = match &model.filter {
        Some(f) => quote!(::core::option::Option::Some(#f)),
        None => quote!(::core::option::Option::None),
    };
    let job = &model.job;
    let batch_size = match model.batch_size {
        Some(n) => quote!(::core::option::Option::Some(#n)),
        None => quote!(::core::option::Option::None),
    };
    let write_once = model.write_once;
    let allow_other = model.allow_other_unique_keys;
    let grouped = model.grouped;
    let strategy = model.strategy;
    let keys = model.key_columns().map(key_part);
    let columns = model.columns.iter().map(target_column);
    let per_engine = Engine::ALL.map(|e| {
        if model.engines.contains(&e) {
            let statements = sql::statements(model, e);
            quote!(::core::option::Option::Some(#statements))
        } else {
            quote!(::core::option::Option::None)
        }
    });
    let [postgres, mysql, sqlite] = per_engine;
    let schema = model.schema.iter().map(|checked| {
        let engine = checked.engine;
        let migrations = &checked.migrations;
        let skipped = &checked.skipped;
        let columns = checked.columns.iter().map(|(name, data_type, not_null)| {
            quote!(#private::CheckedColumn { name: #name, data_type: #data_type, not_null: #not_null })
        });
        quote! {
            #private::CheckedSchema {
                engine: #engine,
                migrations: #migrations,
                skipped: &[#(#skipped),*],
                columns: &[#(#columns),*],
            }
        }
    });
    quote! {
        #private::Definition {
            name: #name,
            table: #table,
            from: #from,
            in_place: #in_place,
            filter: #filter,
            job: #job,
            batch_size: #batch_size,
            write_once: #write_once,
            allow_other_unique_keys: #allow_other,
            grouped: #grouped,
            key: &[ #(#keys),* ],
            columns: &[ #(#columns),* ],
            postgres: #postgres,
            mysql: #mysql,
            sqlite: #sqlite,
            schema: &[#(#schema),*],
            strategy: #strategy,
        }
    }
}

/// One `KeyPart` of the definition.
fn key_part(c: &Column) -> TokenStream {
    let private = private();
    let field = &c.field;
    let column = &c.column;
    let kind = c.key.unwrap_or(KeyKind::Int);
    quote!(#private::KeyPart { field: #field, column: #column, kind: #kind })
}

/// One `TargetColumn` of the definition.
fn target_column(c: &Column) -> TokenStream {
    let private = private();
    let field = &c.field;
    let column = &c.column;
    let rust_type = &c.rust_type;
    let key = c.key.is_some();
    let merge = c.merge;
    quote!(#private::TargetColumn {
        field: #field,
        column: #column,
        rust_type: #rust_type,
        key: #key,
        merge: #merge,
    })
}

/// The sqlx database and row types of an engine.
pub fn sqlx_types(engine: Engine) -> (TokenStream, TokenStream) {
    let private = private();
    match engine {
        Engine::Postgres => (
            quote!(#private::sqlx::Postgres),
            quote!(#private::sqlx::postgres::PgRow),
        ),
        Engine::MySql => (
            quote!(#private::sqlx::MySql),
            quote!(#private::sqlx::mysql::MySqlRow),
        ),
        Engine::Sqlite => (
            quote!(#private::sqlx::Sqlite),
            quote!(#private::sqlx::sqlite::SqliteRow),
        ),
    }
}

/// `sqlx::FromRow` reading each field by its target column name. Every field is read through a
/// `__BackfillBindable` bound (names that cannot shadow the user's types) (`sqlx::Type + Encode + Decode` for the engine), spanned at the field's
/// type: a type that cannot be bound fails to compile with an error naming the type and the
/// engine.
fn from_row(cont: &Container, engine: Engine) -> TokenStream {
    let private = private();
    let ident = cont.ident;
    let (db, row) = sqlx_types(engine);
    let display = engine.display_name();
    let message = format!("`{{Self}}` cannot be bound to or read from a {display} column");
    let label = format!("no sqlx encoding of this type for {display}");
    let note = format!(
        "a backfill field needs `sqlx::Type + sqlx::Encode + sqlx::Decode` for {display}: use a type sqlx maps (integers, floats, String, bool, chrono types, Option of them), or leave {} out with `engines = \"...\"`",
        engine.name()
    );
    let reads = cont.fields.iter().map(
        |Field {
             ident, ty, column, ..
         }| {
            let read = quote_spanned!(ty.span()=> __backfill_read::<#ty>(row, #column)?);
            quote!(#ident: #read)
        },
    );
    quote! {
        #[automatically_derived]
        const _: () = {
            #[diagnostic::on_unimplemented(message = #message, label = #label, note = #note)]
            trait __BackfillBindable<'r>:
                #private::sqlx::Type<#db>
                + #private::sqlx::Decode<'r, #db>
                + for<'q> #private::sqlx::Encode<'q, #db>
            {
            }
            impl<'r, T> __BackfillBindable<'r> for T where
                T: #private::sqlx::Type<#db>
                    + #private::sqlx::Decode<'r, #db>
                    + for<'q> #private::sqlx::Encode<'q, #db>
            {
            }
            fn __backfill_read<'r, T: __BackfillBindable<'r>>(
                row: &'r #row,
                column: &str,
            ) -> ::core::result::Result<T, #private::sqlx::Error> {
                <#row as #private::sqlx::Row>::try_get(row, column)
            }
            #[automatically_derived]
            impl<'r> #private::sqlx::FromRow<'r, #row> for #ident {
                fn from_row(row: &'r #row) -> ::core::result::Result<Self, #private::sqlx::Error> {
                    ::core::result::Result::Ok(Self { #(#reads,)* })
                }
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the derive emits for `input`, formatted as Rust, as snapshot `name`.
    fn snapshot(name: &str, input: DeriveInput) {
        let tokens = derive(&input);
        let file: syn::File = syn::parse2(tokens).expect("the expansion is a list of items");
        let expanded = prettyplease::unparse(&file);
        insta::assert_snapshot!(name, expanded);
    }

    #[test]
    fn snapshot_aggregate_on_every_engine() {
        snapshot(
            "aggregate_on_every_engine",
            syn::parse_quote! {
                #[backfill(table = "user_stats", from = "events e", filter = "e.kind <> 'test'")]
                pub struct UserStats {
                    #[backfill(key, expr = "e.user_id")]
                    pub user_id: i64,
                    #[backfill(expr = "count(*)")]
                    pub event_count: i64,
                    #[backfill(expr = "max(e.created_at)", merge = "greatest")]
                    pub last_seen: Option<chrono::NaiveDateTime>,
                }
            },
        );
    }

    #[test]
    fn snapshot_copy_on_mysql() {
        snapshot(
            "copy_on_mysql",
            syn::parse_quote! {
                #[backfill(table = "archive.items", from = "items", engines = "mysql", batch_size = 500)]
                pub struct ItemCopy {
                    #[backfill(key)]
                    pub id: u64,
                    pub name: String,
                    #[backfill(column = "price_cents")]
                    pub r#price: i64,
                }
            },
        );
    }

    #[test]
    fn snapshot_in_place_on_sqlite() {
        snapshot(
            "in_place_on_sqlite",
            syn::parse_quote! {
                #[backfill(table = "people", engines = "sqlite")]
                pub struct FullName {
                    #[backfill(key)]
                    pub id: i64,
                    #[backfill(expr = "first_name || ' ' || last_name")]
                    pub full_name: Option<String>,
                }
            },
        );
    }

    #[test]
    fn snapshot_composite_key_on_postgres() {
        snapshot(
            "composite_key_on_postgres",
            syn::parse_quote! {
                #[backfill(
                    table = "region_revenue",
                    from = "orders o JOIN shops s ON s.id = o.shop_id",
                    engines = "postgres",
                    job = "region_revenue_v2"
                )]
                pub struct RegionRevenue {
                    #[backfill(key, expr = "s.region")]
                    pub region: String,
                    #[backfill(key, expr = "o.day")]
                    pub day: i32,
                    #[backfill(expr = "sum(o.amount)")]
                    pub revenue: i64,
                }
            },
        );
    }

    #[test]
    fn snapshot_fallback_after_an_error() {
        snapshot(
            "fallback_after_an_error",
            syn::parse_quote! {
                #[backfill(table = "user_stats", from = "events e")]
                pub struct UserStats {
                    #[backfill(key, expr = "e.user_id")]
                    pub user_id: i64,
                    #[backfill(expr = "now()")]
                    pub refreshed_at: chrono::NaiveDateTime,
                }
            },
        );
    }
}
