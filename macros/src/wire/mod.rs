//! `#[derive(Wire)]`: parse → validate → expand.

mod check;
mod enums;
mod generics;
mod structs;

use proc_macro2::TokenStream;
use syn::{Data, DeriveInput, Fields, Member, Type};

/// One field of a struct or variant, as the expansion needs it.
pub(crate) struct Field<'a> {
    /// `self.<member>`.
    pub member: Member,
    /// The name used for accessors, fixed-block fields and the fingerprint.
    pub name: syn::Ident,
    /// The name mixed into the fingerprint (`"0"` for tuple fields).
    pub fp_name: String,
    pub ty: &'a Type,
}

pub(crate) fn fields_of(fields: &Fields) -> Vec<Field<'_>> {
    fields
        .iter()
        .enumerate()
        .map(|(i, f)| match &f.ident {
            Some(id) => Field {
                member: Member::Named(id.clone()),
                name: id.clone(),
                fp_name: id.to_string(),
                ty: &f.ty,
            },
            None => Field {
                member: Member::Unnamed(syn::Index::from(i)),
                name: quote::format_ident!("_{}", i),
                fp_name: i.to_string(),
                ty: &f.ty,
            },
        })
        .collect()
}

pub(crate) fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    check::check_input(input)?;
    match &input.data {
        Data::Struct(s) => Ok(structs::expand(input, &s.fields)),
        Data::Enum(e) => enums::expand(input, e),
        Data::Union(u) => Err(syn::Error::new(
            u.union_token.span,
            "`Wire` cannot be derived for unions: the receiver cannot know which field is \
             active; use an enum with data-carrying variants instead",
        )),
    }
}
