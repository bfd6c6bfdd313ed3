//! `#[derive(Backfill)]` (being written).
use proc_macro::TokenStream;

/// Derives a backfill.
#[proc_macro_derive(Backfill, attributes(backfill))]
pub fn derive_backfill(_input: TokenStream) -> TokenStream {
    TokenStream::new()
}
