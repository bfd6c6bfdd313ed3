//! `#[derive(Backfill)]`, the compile-time half of [`backfill`](https://docs.rs/backfill).
//!
//! A pipeline, one stage per file: [`attr`] reads `#[backfill(...)]` into a typed model with
//! spans, [`check`] applies the idempotence rules (with [`analyze`] walking the parsed SQL) and
//! yields the validated [`model`], [`sql`] writes every statement for every engine, and
//! [`expand`] turns it all into tokens. Errors are collected in a [`ctxt::Ctxt`] and reported
//! together.
#![deny(missing_docs)]

mod analyze;
mod attr;
mod check;
mod ctxt;
mod expand;
mod model;
mod sql;

use proc_macro::TokenStream;

/// Derives `backfill::Backfill` for a struct mapping a source query onto a target table; see
/// the `backfill` crate for the attributes.
#[proc_macro_derive(Backfill, attributes(backfill))]
pub fn derive_backfill(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    expand::derive(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
