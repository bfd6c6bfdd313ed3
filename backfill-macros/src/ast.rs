//! The struct as the rules see it: its `#[backfill(...)]` attributes as typed values, each
//! named field beside its own attributes and target column. `check` applies the rules to a
//! [`Container`] and, when they pass, builds from it the syn-free [`model::Backfill`] that `sql`
//! writes statements from; `expand` reads each field's name and type from its [`Field`], so a
//! column and the Rust field it comes from are never paired up by position.
//!
//! What cannot be a backfill at all (an enum, a union, a tuple or unit struct, a generic
//! struct) is refused here, before any attribute is read.

use syn::punctuated::Punctuated;
use syn::{Data, DeriveInput, Fields, Ident, LitStr, Token, Type};

use crate::attr::{self, OnConflict};
use crate::ctxt::{Ctxt, Message};
use crate::model::{self, Engine, KeyKind, Merge};

/// The deriving struct.
pub struct Container<'a> {
    /// The struct's name.
    pub ident: &'a Ident,
    /// The struct's `#[backfill(...)]` attributes.
    pub attrs: attr::Container,
    /// The named fields, in order.
    pub fields: Vec<Field<'a>>,
}

/// One named field: its Rust name and type, its attributes and its target column.
pub struct Field<'a> {
    /// The field's name.
    pub ident: &'a Ident,
    /// The field's type.
    pub ty: &'a Type,
    /// The field's `#[backfill(...)]` attributes.
    pub attrs: attr::Field,
    /// The target column: `column = "..."` or the field name.
    pub column: String,
}

impl<'a> Container<'a> {
    /// Reads the struct and its attributes; `None` (with the error recorded) when it is not a
    /// struct with named fields and no generics.
    pub fn from_ast(cx: &Ctxt, input: &'a DeriveInput) -> Option<Container<'a>> {
        let named = named_fields(cx, input)?;
        let attrs = attr::container(cx, &input.attrs);
        let fields = named
            .iter()
            .filter_map(|field| {
                let ident = field.ident.as_ref()?;
                let attrs = attr::field(cx, field, ident);
                let column = match &attrs.column {
                    Some(lit) => lit.value(),
                    None => syn::ext::IdentExt::unraw(ident).to_string(),
                };
                Some(Field {
                    ident,
                    ty: &field.ty,
                    attrs,
                    column,
                })
            })
            .collect();
        Some(Container {
            ident: &input.ident,
            attrs,
            fields,
        })
    }

    /// The target table as written, when `table` is given and names a table.
    pub fn table(&self) -> Option<String> {
        let value = self.attrs.table.as_ref()?.value();
        is_table_name(&value).then_some(value)
    }

    /// The target table's name parts (`["s", "user_stats"]`), when `table` names a table.
    pub fn target(&self) -> Option<Vec<String>> {
        let table = self.table()?;
        Some(table.split('.').map(|p| p.trim().to_string()).collect())
    }

    /// The engines the SQL is parsed and checked for: `engines = "..."`, or every engine whose
    /// feature is on.
    pub fn checked_engines(&self) -> Vec<Engine> {
        Engine::ALL
            .into_iter()
            .filter(|e| match &self.attrs.engines {
                Some((list, _)) => list.contains(e),
                None => model::feature_enabled(*e),
            })
            .collect()
    }

    /// No `from`: the target's own rows, each computed from its other columns. A struct whose
    /// `table` is missing, or whose unknown attribute looked like `from`, already has its error
    /// and is not checked as in place on top of it.
    pub fn updates_own_rows(&self) -> bool {
        self.attrs.from.is_none()
            && self.table().is_some()
            && !self.attrs.suggested.contains(&"from")
    }

    /// Existing target rows are updated, never inserted: no `from`, or `in_place`.
    pub fn in_place(&self) -> bool {
        self.updates_own_rows() || self.attrs.in_place.is_some()
    }

    /// The key fields, in order.
    pub fn key_fields(&self) -> impl Iterator<Item = &Field<'a>> {
        self.fields.iter().filter(|f| f.is_key())
    }

    /// The non-key fields, in order.
    pub fn value_fields(&self) -> impl Iterator<Item = &Field<'a>> {
        self.fields.iter().filter(|f| !f.is_key())
    }

    /// The columns the backfill writes: every non-key column.
    pub fn written_columns(&self) -> Vec<&str> {
        self.value_fields().map(|f| f.column.as_str()).collect()
    }

    /// The syn-free model `sql` writes statements from; `None` without a valid `table`, which
    /// the rules have reported.
    pub fn model(&self, grouped: bool) -> Option<model::Backfill> {
        let table = self.table()?;
        let attrs = &self.attrs;
        Some(model::Backfill {
            name: self.ident.to_string(),
            job: attrs
                .job
                .as_ref()
                .map_or_else(|| table.clone(), LitStr::value),
            table,
            from: attrs.from.as_ref().map(LitStr::value),
            in_place: self.in_place(),
            filter: attrs.filter.as_ref().map(LitStr::value),
            batch_size: attrs.batch_size.as_ref().map(|(n, _)| *n),
            write_once: matches!(attrs.on_conflict, Some((OnConflict::Nothing, _))),
            allow_other_unique_keys: attrs.allow_other_unique_keys,
            grouped,
            engines: self
                .checked_engines()
                .into_iter()
                .filter(|e| model::feature_enabled(*e))
                .collect(),
            columns: self.fields.iter().map(Field::model_column).collect(),
            schema: Vec::new(),
            strategy: attrs
                .strategy
                .as_ref()
                .map_or(model::Strategy::Auto, |(s, _)| *s),
        })
    }
}

impl Field<'_> {
    /// `#[backfill(key)]`.
    pub fn is_key(&self) -> bool {
        self.attrs.key.is_some()
    }

    /// `merge = "keep"`: in place, written only where the column is NULL.
    pub fn keeps(&self) -> bool {
        matches!(self.attrs.merge, Some((Merge::Keep, _)))
    }

    /// Every expression the field has: `expr` and the per-engine ones.
    pub fn has_expression(&self) -> bool {
        self.attrs.expr.is_some() || self.attrs.engine_exprs.iter().any(Option::is_some)
    }

    /// How the field binds as a key: integers that fit in `i64`, `u64`, `String`, `Vec<u8>`;
    /// `None` for any other type.
    pub fn key_kind(&self) -> Option<KeyKind> {
        key_kind(self.ty)
    }

    fn model_column(&self) -> model::Column {
        let attrs = &self.attrs;
        model::Column {
            field: syn::ext::IdentExt::unraw(self.ident).to_string(),
            column: self.column.clone(),
            rust_type: type_name(self.ty),
            key: attrs.key.map(|_| self.key_kind().unwrap_or(KeyKind::Int)),
            merge: attrs.merge.as_ref().map_or(Merge::Overwrite, |(m, _)| *m),
            exprs: Engine::ALL.map(|e| {
                attrs.engine_exprs[e.index()]
                    .as_ref()
                    .or(attrs.expr.as_ref())
                    .map(LitStr::value)
            }),
        }
    }
}

/// A name the generated SQL can quote on every engine: any non-empty text without control
/// characters (quotes are doubled when quoted, so `user's "stats"` is a valid table name).
pub fn is_plain_identifier(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(char::is_control)
}

/// `name` or `schema.name`, each part a plain identifier.
pub fn is_table_name(value: &str) -> bool {
    let parts: Vec<&str> = value.split('.').collect();
    parts.len() <= 2 && parts.iter().all(|p| is_plain_identifier(p))
}

/// The named fields of a struct without generics; anything else is refused here, because
/// `#[derive(Backfill)]` maps a struct's named fields to the target table's columns.
fn named_fields<'a>(
    cx: &Ctxt,
    input: &'a DeriveInput,
) -> Option<&'a Punctuated<syn::Field, Token![,]>> {
    let name = &input.ident;
    let not_a_struct = |what: &str, instead: &str| {
        Message::new(format!("`{name}` is {what}"))
            .note("#[derive(Backfill)] maps a struct's named fields to the target table's columns")
            .help(instead)
    };
    let fields = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(named) => Some(&named.named),
            Fields::Unnamed(_) => {
                cx.error_spanned_by(
                    name,
                    not_a_struct("a tuple struct", "name each field after its column"),
                );
                None
            }
            Fields::Unit => {
                cx.error_spanned_by(
                    name,
                    not_a_struct(
                        "a unit struct",
                        "add a field per column, the key fields marked `#[backfill(key)]`",
                    ),
                );
                None
            }
        },
        Data::Enum(data) => {
            cx.error_spanned_by(
                data.enum_token,
                not_a_struct("an enum", "write a struct with one field per column"),
            );
            None
        }
        Data::Union(data) => {
            cx.error_spanned_by(
                data.union_token,
                not_a_struct("a union", "write a struct with one field per column"),
            );
            None
        }
    };
    if !input.generics.params.is_empty() {
        cx.error_spanned_by(
            &input.generics,
            Message::new(format!("`{name}` is generic"))
                .note("a backfill's statements are fixed at compile time")
                .help("write a struct without type, lifetime or const parameters"),
        );
        return None;
    }
    fields
}

/// Integers that fit in `i64` (and `u64`), `String`, `Vec<u8>`.
fn key_kind(ty: &Type) -> Option<KeyKind> {
    let Type::Path(p) = ty else { return None };
    if p.qself.is_some() {
        return None;
    }
    let last = p.path.segments.last()?;
    let name = last.ident.to_string();
    if let syn::PathArguments::AngleBracketed(args) = &last.arguments {
        // `Vec<u8>`: a binary key.
        let [syn::GenericArgument::Type(Type::Path(inner))] =
            args.args.iter().collect::<Vec<_>>()[..]
        else {
            return None;
        };
        return (name == "Vec" && inner.qself.is_none() && inner.path.is_ident("u8"))
            .then_some(KeyKind::Bytes);
    }
    if !last.arguments.is_empty() {
        return None;
    }
    match name.as_str() {
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" => Some(KeyKind::Int),
        "u64" => Some(KeyKind::UInt),
        "String" => Some(KeyKind::Text),
        _ => None,
    }
}

/// The type as written, without the token stream's spacing (`Option<i64>`).
pub fn type_name(ty: &Type) -> String {
    let text = quote::quote!(#ty).to_string();
    let mut out = String::new();
    for part in text.split(' ') {
        let glue = out.ends_with(['<', ':', '&', '(', '['])
            || part.starts_with(['<', '>', ':', ',', ')', ']'])
            || out.is_empty();
        if !glue {
            out.push(' ');
        }
        out.push_str(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_read_like_rust() {
        let ty: Type = syn::parse_quote!(Option<std::collections::HashMap<String, Vec<u8>>>);
        assert_eq!(
            type_name(&ty),
            "Option<std::collections::HashMap<String, Vec<u8>>>"
        );
        let ty: Type = syn::parse_quote!(&'static str);
        assert_eq!(type_name(&ty), "&'static str");
    }

    #[test]
    fn each_field_keeps_its_own_type_and_column() {
        let input: DeriveInput = syn::parse_quote! {
            #[backfill(table = "t", from = "s")]
            struct T {
                #[backfill(key)] id: u64,
                #[backfill(column = "n")] r#count: Vec<u8>,
            }
        };
        let cx = Ctxt::new();
        let cont = Container::from_ast(&cx, &input).unwrap();
        cx.check().unwrap();
        let fields: Vec<(String, String, String)> = cont
            .fields
            .iter()
            .map(|f| (f.ident.to_string(), type_name(f.ty), f.column.clone()))
            .collect();
        assert_eq!(
            fields,
            [
                ("id".into(), "u64".into(), "id".into()),
                ("r#count".into(), "Vec<u8>".into(), "n".into()),
            ]
        );
        assert_eq!(cont.fields[0].key_kind(), Some(KeyKind::UInt));
    }
}
