//! Tokens: the `Backfill` impl with the whole `Definition` as `'static` data, the inherent
//! `run_backfill`/`check`/`verify`/`sql`/`definition` methods, and `sqlx::FromRow` per engine
//! whose reads assert that every field's type binds on that engine. Hygienic: every item is named by absolute path
//! through `::backfill::__private`, nothing is imported into the user's module.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields};

use crate::check;
use crate::ctxt::Ctxt;
use crate::model::{Backfill, Engine, KeyKind};
use crate::sql;

/// The whole derive: validate, generate SQL, emit tokens.
pub fn derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    let cx = Ctxt::new();
    let model = check::derive_input(&cx, input);
    cx.check()?;
    let Some(model) = model else {
        // `derive_input` returns `None` only after recording an error.
        return Err(syn::Error::new_spanned(&input.ident, "invalid backfill"));
    };
    let fields = named_fields(input);
    Ok(emit(input, &model, &fields))
}

fn named_fields(input: &DeriveInput) -> Vec<(syn::Ident, syn::Type)> {
    match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(named) => named
                .named
                .iter()
                .filter_map(|f| f.ident.clone().map(|i| (i, f.ty.clone())))
                .collect(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

fn private() -> TokenStream {
    quote!(::backfill::__private)
}

fn emit(input: &DeriveInput, model: &Backfill, fields: &[(syn::Ident, syn::Type)]) -> TokenStream {
    let pv = private();
    let ident = &input.ident;
    let key_types: Vec<&syn::Type> = model
        .columns
        .iter()
        .zip(fields)
        .filter(|(c, _)| c.key.is_some())
        .map(|(_, (_, ty))| ty)
        .collect();
    let definition = definition(model);
    let from_rows = Engine::ALL
        .iter()
        .filter(|e| model.engines.contains(e))
        .map(|e| from_row(ident, *e, model, fields));
    let name = ident.to_string();
    let run_doc = format!(
        "Runs (or resumes) the `{name}` backfill into `{}` on `pool`: preflight, then one transaction per key range, the cursor committed with the data.",
        model.table
    );
    let check_doc = format!(
        "Preflight only for the `{name}` backfill: checks `{}` (columns, the unique index on the key) and prepares every statement; writes nothing.",
        model.table
    );
    let verify_doc = format!(
        "Recomputes every range of the `{name}` backfill read-only and compares it with `{}`.",
        model.table
    );
    quote! {
        #[automatically_derived]
        impl #pv::Backfill for #ident {
            type Key = ( #(#key_types,)* );
            const DEFINITION: &'static #pv::Definition = &#definition;
        }

        #[automatically_derived]
        impl #ident {
            #[doc = #run_doc]
            pub async fn run_backfill<P: #pv::BackfillPool>(
                pool: &P,
                options: #pv::RunOptions,
            ) -> ::core::result::Result<#pv::Report, #pv::Error> {
                #pv::BackfillPool::run_backfill(
                    pool,
                    <Self as #pv::Backfill>::DEFINITION,
                    options,
                )
                .await
            }

            #[doc = #check_doc]
            pub async fn check<P: #pv::BackfillPool>(
                pool: &P,
            ) -> ::core::result::Result<(), #pv::Error> {
                #pv::BackfillPool::check(pool, <Self as #pv::Backfill>::DEFINITION).await
            }

            #[doc = #verify_doc]
            pub async fn verify<P: #pv::BackfillPool>(
                pool: &P,
            ) -> ::core::result::Result<#pv::VerifyReport, #pv::Error> {
                #pv::BackfillPool::verify(pool, <Self as #pv::Backfill>::DEFINITION).await
            }

            /// The generated statements for `engine`, for review; `None` when this backfill
            /// was not generated for it.
            pub fn sql(engine: #pv::Engine) -> ::core::option::Option<&'static #pv::Statements> {
                <Self as #pv::Backfill>::DEFINITION.statements(engine)
            }

            /// The whole generated definition: table, source, key, columns and statements.
            pub fn definition() -> &'static #pv::Definition {
                <Self as #pv::Backfill>::DEFINITION
            }
        }

        #(#from_rows)*
    }
}

fn definition(model: &Backfill) -> TokenStream {
    let pv = private();
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
    let keys = model.key_columns().map(|c| {
        let field = &c.field;
        let column = &c.column;
        let kind = c.key.unwrap_or(KeyKind::Int);
        quote!(#pv::KeyPart { field: #field, column: #column, kind: #kind })
    });
    let columns = model.columns.iter().map(|c| {
        let field = &c.field;
        let column = &c.column;
        let rust_type = &c.rust_type;
        let key = c.key.is_some();
        let merge = c.merge;
        quote!(#pv::TargetColumn {
            field: #field,
            column: #column,
            rust_type: #rust_type,
            key: #key,
            merge: #merge,
        })
    });
    let per_engine = Engine::ALL.map(|e| {
        if model.engines.contains(&e) {
            let statements = sql::statements(model, e);
            quote!(::core::option::Option::Some(#statements))
        } else {
            quote!(::core::option::Option::None)
        }
    });
    let [postgres, mysql, sqlite] = per_engine;
    quote! {
        #pv::Definition {
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
        }
    }
}

/// The sqlx database and row types of an engine.
fn sqlx_types(engine: Engine) -> (TokenStream, TokenStream) {
    let pv = private();
    match engine {
        Engine::Postgres => (
            quote!(#pv::sqlx::Postgres),
            quote!(#pv::sqlx::postgres::PgRow),
        ),
        Engine::MySql => (quote!(#pv::sqlx::MySql), quote!(#pv::sqlx::mysql::MySqlRow)),
        Engine::Sqlite => (
            quote!(#pv::sqlx::Sqlite),
            quote!(#pv::sqlx::sqlite::SqliteRow),
        ),
    }
}

/// `sqlx::FromRow` reading each field by its target column name. Every field is read through a
/// `__BackfillBindable` bound (names that cannot shadow the user's types) (`sqlx::Type + Encode + Decode` for the engine), spanned at the field's
/// type: a type that cannot be bound fails to compile with an error naming the type and the
/// engine.
fn from_row(
    ident: &syn::Ident,
    engine: Engine,
    model: &Backfill,
    fields: &[(syn::Ident, syn::Type)],
) -> TokenStream {
    let pv = private();
    let (db, row) = sqlx_types(engine);
    let display = engine.display_name();
    let message = format!("`{{Self}}` cannot be bound to or read from a {display} column");
    let label = format!("no sqlx encoding of this type for {display}");
    let note = format!(
        "a backfill field needs `sqlx::Type + sqlx::Encode + sqlx::Decode` for {display}: use a type sqlx maps (integers, floats, String, bool, chrono types, Option of them), or leave {} out with `engines = \"...\"`",
        engine.name()
    );
    let reads = model.columns.iter().zip(fields).map(|(c, (field, ty))| {
        let column = &c.column;
        let read = quote_spanned!(ty.span()=> __backfill_read::<#ty>(row, #column)?);
        quote!(#field: #read)
    });
    quote! {
        #[automatically_derived]
        const _: () = {
            #[diagnostic::on_unimplemented(message = #message, label = #label, note = #note)]
            trait __BackfillBindable<'r>:
                #pv::sqlx::Type<#db>
                + #pv::sqlx::Decode<'r, #db>
                + for<'q> #pv::sqlx::Encode<'q, #db>
            {
            }
            impl<'r, T> __BackfillBindable<'r> for T where
                T: #pv::sqlx::Type<#db>
                    + #pv::sqlx::Decode<'r, #db>
                    + for<'q> #pv::sqlx::Encode<'q, #db>
            {
            }
            fn __backfill_read<'r, T: __BackfillBindable<'r>>(
                row: &'r #row,
                column: &str,
            ) -> ::core::result::Result<T, #pv::sqlx::Error> {
                <#row as #pv::sqlx::Row>::try_get(row, column)
            }
            #[automatically_derived]
            impl<'r> #pv::sqlx::FromRow<'r, #row> for #ident {
                fn from_row(row: &'r #row) -> ::core::result::Result<Self, #pv::sqlx::Error> {
                    ::core::result::Result::Ok(Self { #(#reads,)* })
                }
            }
        };
    }
}
