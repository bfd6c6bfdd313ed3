//! `ToTokens` for the shared types (feature `tokens`): the derive emits its
//! [`Statements<Owned>`](crate::Owned) as a constant expression of
//! [`Statements<Static>`](crate::Static), every type named by absolute path through the facade
//! (`::backfill::__private`), so the generated code imports nothing into the user's module.

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};

use crate::{Engine, Hole, KeyKind, Merge, Owned, Param, Ranged, Scan, Statements, Stmt, Strategy};

/// The path the generated code names the runtime's items by.
fn private() -> TokenStream {
    quote!(::backfill::__private)
}

impl ToTokens for Engine {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let private = private();
        tokens.extend(match self {
            Engine::Postgres => quote!(#private::Engine::Postgres),
            Engine::MySql => quote!(#private::Engine::MySql),
            Engine::Sqlite => quote!(#private::Engine::Sqlite),
        });
    }
}

impl ToTokens for KeyKind {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let private = private();
        tokens.extend(match self {
            KeyKind::Int => quote!(#private::KeyKind::Int),
            KeyKind::UInt => quote!(#private::KeyKind::UInt),
            KeyKind::Text => quote!(#private::KeyKind::Text),
            KeyKind::Bytes => quote!(#private::KeyKind::Bytes),
        });
    }
}

impl ToTokens for Merge {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let private = private();
        tokens.extend(match self {
            Merge::Overwrite => quote!(#private::Merge::Overwrite),
            Merge::Greatest => quote!(#private::Merge::Greatest),
            Merge::Least => quote!(#private::Merge::Least),
            Merge::Keep => quote!(#private::Merge::Keep),
        });
    }
}

impl ToTokens for Param {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let private = private();
        tokens.extend(match self {
            Param::Cursor(i) => quote!(#private::Param::Cursor(#i)),
            Param::Hi(i) => quote!(#private::Param::Hi(#i)),
            Param::Limit => quote!(#private::Param::Limit),
            Param::Offset => quote!(#private::Param::Offset),
        });
    }
}

impl ToTokens for Hole<Owned> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let private = private();
        let Hole {
            at,
            len,
            column,
            expr,
        } = self;
        tokens.extend(quote!(#private::Hole {
            at: #at,
            len: #len,
            column: #column,
            expr: #expr,
        }));
    }
}

impl ToTokens for Stmt<Owned> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let private = private();
        let Stmt { sql, params, holes } = self;
        tokens.extend(quote!(#private::Stmt {
            sql: #sql,
            params: &[ #(#params),* ],
            holes: &[ #(#holes),* ],
        }));
    }
}

impl ToTokens for Ranged<Owned> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let private = private();
        let Ranged { first, next } = self;
        tokens.extend(quote!(#private::Ranged { first: #first, next: #next }));
    }
}

impl ToTokens for Statements<Owned> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let private = private();
        // Destructured so a statement added to the struct cannot be left out here.
        let Statements {
            engine,
            fingerprint,
            bounds,
            bounds_offset,
            upsert,
            insert,
            verify_diff,
            verify_extra,
            verify_extra_tail,
            target_count,
            target_rows,
            null_keys,
            key_span,
            upsert_all,
            delete_extra,
            delete_extra_tail,
            key_probe,
            duplicate_keys,
            scan,
            scan_refused,
        } = self;
        let scan_refused = match scan_refused {
            Some(why) => quote!(::core::option::Option::Some(#why)),
            None => quote!(::core::option::Option::None),
        };
        tokens.extend(quote! {
            #private::Statements {
                engine: #engine,
                fingerprint: #fingerprint,
                bounds: #bounds,
                bounds_offset: #bounds_offset,
                upsert: #upsert,
                insert: #insert,
                verify_diff: #verify_diff,
                verify_extra: #verify_extra,
                verify_extra_tail: #verify_extra_tail,
                target_count: #target_count,
                target_rows: #target_rows,
                null_keys: #null_keys,
                key_span: #key_span,
                upsert_all: #upsert_all,
                delete_extra: #delete_extra,
                delete_extra_tail: #delete_extra_tail,
                key_probe: #key_probe,
                duplicate_keys: #duplicate_keys,
                scan: &[ #(#scan),* ],
                scan_refused: #scan_refused,
            }
        });
    }
}

impl ToTokens for Strategy {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let private = private();
        tokens.extend(match self {
            Strategy::Ranges => quote!(#private::Strategy::Ranges),
            Strategy::Scan => quote!(#private::Strategy::Scan),
            Strategy::Auto => quote!(#private::Strategy::Auto),
        });
    }
}

impl ToTokens for Scan<Owned> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let private = private();
        // Destructured so a statement added to the struct cannot be left out here.
        let Scan {
            fingerprint,
            driving,
            create,
            index,
            clear,
            clear_chunk,
            columns,
            chunk_offset,
            chunk_bounds,
            chunk_rows,
            chunk_span,
            partials,
            rebuild,
            replace,
            drop,
            merge,
            merge_one,
        } = self;
        tokens.extend(quote! {
            #private::Scan {
                fingerprint: #fingerprint,
                driving: #driving,
                create: #create,
                index: #index,
                clear: #clear,
                clear_chunk: #clear_chunk,
                columns: &[ #(#columns),* ],
                chunk_offset: #chunk_offset,
                chunk_bounds: #chunk_bounds,
                chunk_rows: #chunk_rows,
                chunk_span: #chunk_span,
                partials: #partials,
                rebuild: #rebuild,
                replace: #replace,
                drop: #drop,
                merge: #merge,
                merge_one: &[ #(#merge_one),* ],
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_is_emitted_as_static_data_through_the_facade() {
        let stmt = Stmt::<Owned> {
            sql: "SELECT $1".to_string(),
            params: vec![Param::Cursor(0)],
            holes: vec![Hole {
                at: 7,
                len: 2,
                column: 1,
                expr: "x".to_string(),
            }],
        };
        assert_eq!(
            stmt.to_token_stream().to_string(),
            quote!(::backfill::__private::Stmt {
                sql: "SELECT $1",
                params: &[::backfill::__private::Param::Cursor(0usize)],
                holes: &[::backfill::__private::Hole {
                    at: 7usize,
                    len: 2usize,
                    column: 1usize,
                    expr: "x",
                }],
            })
            .to_string()
        );
    }
}
