//! Generic parameters and bounds for the generated items.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{parse_quote, DeriveInput, GenericParam, Generics, Lifetime};

/// The user's generics with `T: Wire` added for every type parameter.
pub(crate) fn wire_generics(input: &DeriveInput) -> Generics {
    let mut g = input.generics.clone();
    let params: Vec<syn::Ident> = g.type_params().map(|t| t.ident.clone()).collect();
    let wc = g.make_where_clause();
    for p in params {
        wc.predicates.push(parse_quote!(#p: ::zerowire::Wire));
    }
    g
}

/// `wire_generics` with a leading lifetime `'__a` (view types and their impls).
pub(crate) fn view_generics(input: &DeriveInput) -> Generics {
    let mut g = wire_generics(input);
    g.params
        .insert(0, GenericParam::Lifetime(parse_quote!('__a)));
    g
}

/// Generics for `impl FromView<'__de>`: `T: FromView<'__de>` for every type
/// parameter, and `'__de: 'b` for every lifetime so borrowed fields can
/// borrow from the input.
pub(crate) fn from_view_generics(input: &DeriveInput) -> Generics {
    let mut g = input.generics.clone();
    let types: Vec<syn::Ident> = g.type_params().map(|t| t.ident.clone()).collect();
    let lifetimes: Vec<Lifetime> = g.lifetimes().map(|l| l.lifetime.clone()).collect();
    g.params
        .insert(0, GenericParam::Lifetime(parse_quote!('__de)));
    let wc = g.make_where_clause();
    for t in types {
        wc.predicates
            .push(parse_quote!(#t: ::zerowire::FromView<'__de>));
    }
    for l in lifetimes {
        wc.predicates.push(parse_quote!('__de: #l));
    }
    g
}

/// `PhantomData` that uses every parameter of the user's type.
pub(crate) fn marker(input: &DeriveInput) -> TokenStream {
    let name = &input.ident;
    let (_, ty_generics, _) = input.generics.split_for_impl();
    quote!(::zerowire::__private::core::marker::PhantomData<fn() -> #name #ty_generics>)
}

/// Whether the type has lifetime or type parameters (which need a marker).
pub(crate) fn needs_marker(input: &DeriveInput) -> bool {
    input.generics.lifetimes().next().is_some() || input.generics.type_params().next().is_some()
}

/// `generics` with `<ty as Wire>::View<'__a>: Debug` added for each type.
pub(crate) fn with_view_debug_bounds(generics: &Generics, tys: &[&syn::Type]) -> Generics {
    let mut g = generics.clone();
    let wc = g.make_where_clause();
    for ty in tys {
        let view = super::wire_gat(ty, "View", "'__a");
        wc.predicates.push(parse_quote!(
            #view: ::zerowire::__private::core::fmt::Debug
        ));
    }
    g
}

/// `Clone` and `Copy` for a generated view or tail type, whose fields are
/// all `Copy` whatever the user's parameters are (so `derive`'s `T: Copy`
/// bounds would be wrong).
pub(crate) fn copy_impls(name: &syn::Ident, generics: &Generics) -> TokenStream {
    let (impl_g, ty_g, where_c) = generics.split_for_impl();
    quote! {
        #[automatically_derived]
        impl #impl_g ::zerowire::__private::core::clone::Clone for #name #ty_g #where_c {
            #[inline]
            fn clone(&self) -> Self {
                *self
            }
        }

        #[automatically_derived]
        impl #impl_g ::zerowire::__private::core::marker::Copy for #name #ty_g #where_c {}
    }
}
