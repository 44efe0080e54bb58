//! `#[derive(Wire)]`: parse → validate → expand.

mod check;
mod enums;
mod generics;
mod structs;

use proc_macro2::{Span, TokenStream};
use quote::{quote_spanned, ToTokens};
use syn::{Data, DeriveInput, Fields, Member, Type};

/// The spans of the first and last token of a field type.
///
/// Generated code that names a field type starts with tokens spanned at its
/// first token and ends with tokens spanned at its last, so the span rustc
/// gives the whole path (and so an unsatisfied `Wire` bound) is exactly the
/// user's type. Every such path in the expansion then reports the same error
/// at the same place, and rustc prints it once.
fn ty_spans(ty: &Type) -> (Span, Span) {
    let mut tokens = ty.to_token_stream().into_iter();
    let first = tokens.next().map_or_else(Span::call_site, |t| t.span());
    let last = tokens.last().map_or(first, |t| t.span());
    (first, last)
}

/// `<ty as ::zerowire::Wire>::name`: an associated constant, function or
/// type of a field type, spanned at the type (see [`ty_spans`]).
pub(crate) fn wire(ty: &Type, name: &str) -> TokenStream {
    let (first, last) = ty_spans(ty);
    let name = syn::Ident::new(name, last);
    let head = quote_spanned!(first=> < #ty as ::zerowire::Wire);
    quote_spanned!(last=> #head > :: #name)
}

/// `<ty as ::zerowire::Wire>::name<'lt>`: a generic associated type (`View`,
/// `Tail`) of a field type, spanned at the type.
pub(crate) fn wire_gat(ty: &Type, name: &str, lt: &str) -> TokenStream {
    let (_, last) = ty_spans(ty);
    let path = wire(ty, name);
    let lt = syn::Lifetime::new(lt, Span::call_site());
    quote_spanned!(last=> #path < #lt >)
}

/// `<ty as ::zerowire::FromView<'_>>::from_view`, spanned at the type.
pub(crate) fn from_view(ty: &Type) -> TokenStream {
    let (first, last) = ty_spans(ty);
    let head = quote_spanned!(first=> < #ty as ::zerowire::FromView<'_>);
    quote_spanned!(last=> #head > :: from_view)
}

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
