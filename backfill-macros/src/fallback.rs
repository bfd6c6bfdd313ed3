//! What a failed derive emits besides its errors (thiserror's `fallback.rs`): the `Backfill`
//! impl and the inherent methods over a definition with no columns and no statements, and a
//! `sqlx::FromRow` per enabled engine whose body is unreachable. Code that uses the struct
//! (`UserStats::run_backfill(&pool, ...)`, `UserStats::check`, `<UserStats as
//! Backfill>::DEFINITION`, `query_as::<_, UserStats>`) then type-checks, and the build shows
//! only the derive's own errors instead of a cascade of "no function named `run_backfill`".
//! Nothing of it ever runs: the crate does not compile.

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

use crate::expand;
use crate::model::{self, Backfill, Engine, Strategy};

/// The errors, then the stand-in impls.
pub fn expand(input: &DeriveInput, errors: &syn::Error) -> TokenStream {
    let errors = errors.to_compile_error();
    let placeholder = Backfill {
        name: input.ident.to_string(),
        table: String::new(),
        from: None,
        in_place: false,
        filter: None,
        job: String::new(),
        batch_size: None,
        write_once: false,
        allow_other_unique_keys: false,
        grouped: false,
        engines: Vec::new(),
        columns: Vec::new(),
        schema: Vec::new(),
        strategy: Strategy::Auto,
    };
    let definition = expand::definition(&placeholder);
    let backfill = expand::impl_backfill(input, quote!(()), &definition);
    let methods = expand::inherent_methods(input, &placeholder.table);
    let from_rows = Engine::ALL
        .into_iter()
        .filter(|e| model::feature_enabled(*e))
        .map(|e| from_row(input, e));
    quote! {
        #errors
        #backfill
        #methods
        #(#from_rows)*
    }
}

/// `FromRow` that is never called; none for a generic struct (refused anyway).
fn from_row(input: &DeriveInput, engine: Engine) -> TokenStream {
    if !input.generics.params.is_empty() {
        return TokenStream::new();
    }
    let private = expand::private();
    let ident = &input.ident;
    let (_, row) = expand::sqlx_types(engine);
    quote! {
        #[automatically_derived]
        impl<'r> #private::sqlx::FromRow<'r, #row> for #ident {
            fn from_row(_row: &'r #row) -> ::core::result::Result<Self, #private::sqlx::Error> {
                ::core::unreachable!()
            }
        }
    }
}
