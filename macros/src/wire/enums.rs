//! Expansion for enums.
//!
//! Fieldless enums live in the fixed block as a one-byte variant index and
//! view as themselves. Enums with data live in the
//! tail: an LPV variant index, then the variant's fields (all fixed blocks,
//! then all tails), and view as a generated `NameView<'a>` enum.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{DataEnum, DeriveInput, Fields};

use super::generics::{
    copy_impls, from_view_generics, marker, needs_marker, view_generics, wire_generics,
    with_view_debug_bounds,
};
use super::structs::fields_fingerprint;
use super::{fields_of, from_view, wire, wire_gat, Field};

pub(crate) fn expand(input: &DeriveInput, data: &DataEnum) -> syn::Result<TokenStream> {
    if data
        .variants
        .iter()
        .all(|v| matches!(v.fields, Fields::Unit))
    {
        fieldless(input, data)
    } else {
        Ok(with_data(input, data))
    }
}

fn fingerprint(data: &DataEnum) -> TokenStream {
    let n = data.variants.len() as u64;
    let mut fp = quote!(::zerowire::__private::Fingerprint::new("enum").u64(#n));
    for v in &data.variants {
        let vname = v.ident.to_string();
        let fields = fields_of(&v.fields);
        fp = fields_fingerprint(quote!(#fp.str(#vname)), &fields);
    }
    fp
}

fn fieldless(input: &DeriveInput, data: &DataEnum) -> syn::Result<TokenStream> {
    let name = &input.ident;
    if data.variants.is_empty() {
        return Err(syn::Error::new_spanned(
            name,
            "`Wire` cannot be derived for an enum with no variants: no value of it can be sent",
        ));
    }
    if data.variants.len() > 256 {
        return Err(syn::Error::new_spanned(
            name,
            "a fieldless wire enum has at most 256 variants (its index is one byte); split it",
        ));
    }
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &input.generics,
            "a fieldless wire enum cannot have generic parameters: remove them",
        ));
    }
    let count = data.variants.len() as u8 as u16; // 256 fits in u16
    let count_u8_check = if data.variants.len() == 256 {
        quote!(::zerowire::__private::core::result::Result::Ok(()))
    } else {
        let c = count as u8;
        quote!(::zerowire::__private::check_index(*__fixed, #c, __at))
    };
    let variants: Vec<_> = data.variants.iter().map(|v| &v.ident).collect();
    let indices: Vec<u8> = (0..data.variants.len()).map(|i| i as u8).collect();
    let last = variants.last();
    let fp = fingerprint(data);
    Ok(quote! {
        #[automatically_derived]
        impl ::zerowire::Wire for #name {
            type Fixed = u8;
            type Tail<'__a> = ();
            type View<'__a> = Self;
            const HAS_TAIL: bool = false;
            const CHECKS_FIXED: bool = true;
            const MIN_LEN: usize = 1;
            const MAX_LEN: ::zerowire::__private::core::option::Option<usize> = ::zerowire::__private::core::option::Option::Some(1);
            const FINGERPRINT: u64 = #fp.finish();

            #[inline]
            fn encode_fixed(&self, __w: &mut ::zerowire::__private::Writer<'_>) {
                __w.put_u8(match self { #(Self::#variants => #indices,)* });
            }
            #[inline]
            fn tail_len(&self) -> usize {
                0
            }
            #[inline]
            fn encode_tail(&self, _: &mut ::zerowire::__private::Writer<'_>) {}
            #[inline]
            fn decode_tail<'__a>(
                __fixed: &'__a u8,
                __at: usize,
                _: &mut ::zerowire::__private::Reader<'__a>,
            ) -> ::zerowire::__private::core::result::Result<(), ::zerowire::__private::DecodeError> {
                #count_u8_check
            }
            #[inline]
            fn view<'__a>(__fixed: &'__a u8, _: ()) -> Self {
                // The index was checked by `decode_tail`.
                match *__fixed {
                    #(#indices => Self::#variants,)*
                    #[allow(unreachable_patterns)]
                    _ => Self::#last,
                }
            }
        }

        #[automatically_derived]
        impl ::zerowire::FromView<'_> for #name {
            #[inline]
            fn from_view(__view: Self) -> Self {
                __view
            }
        }
    })
}

/// Per-variant pieces of the data-carrying expansion.
struct Variant<'a> {
    ident: &'a syn::Ident,
    fields: Vec<Field<'a>>,
    style: &'a Fields,
}

impl Variant<'_> {
    /// `Self::V { a: __v0, b: __v1 }` / `Self::V(__v0, __v1)` / `Self::V`.
    fn pattern(&self, path: TokenStream, binds: &[syn::Ident]) -> TokenStream {
        let id = self.ident;
        match self.style {
            Fields::Unit => quote!(#path::#id),
            Fields::Unnamed(_) => quote!(#path::#id(#(#binds),*)),
            Fields::Named(_) => {
                let names = self.fields.iter().map(|f| &f.name);
                quote!(#path::#id { #(#names: #binds),* })
            }
        }
    }
}

/// `expr?`, spelled out. In `decode_tail`, `?` makes rustc check the return
/// type, which names the tail enum: a field type that is not a wire type
/// would be reported once more, at the derive, as a `?` desugaring.
fn propagate(expr: TokenStream) -> TokenStream {
    quote!(match #expr {
        ::zerowire::__private::core::result::Result::Ok(__ok) => __ok,
        ::zerowire::__private::core::result::Result::Err(__e) => {
            return ::zerowire::__private::core::result::Result::Err(__e);
        }
    })
}

fn with_data(input: &DeriveInput, data: &DataEnum) -> TokenStream {
    let name = &input.ident;
    let vis = &input.vis;
    let view_name = format_ident!("{}View", name);
    let tail_name = format_ident!("{}Tail", name);
    let wg = wire_generics(input);
    let (impl_g, ty_g, where_c) = wg.split_for_impl();
    let vg = view_generics(input);
    let (v_impl_g, v_ty_g, v_where) = vg.split_for_impl();
    let fg = from_view_generics(input);
    let (f_impl_g, _, f_where) = fg.split_for_impl();
    let fp = fingerprint(data);

    let variants: Vec<Variant<'_>> = data
        .variants
        .iter()
        .map(|v| Variant {
            ident: &v.ident,
            fields: fields_of(&v.fields),
            style: &v.fields,
        })
        .collect();

    let (marker_variant, marker_arm_debug) = if needs_marker(input) {
        let m = marker(input);
        (
            quote!(#[doc(hidden)] __Marker(::zerowire::__private::core::convert::Infallible, #m),),
            quote!(Self::__Marker(__never, _) => match *__never {},),
        )
    } else {
        (quote!(), quote!())
    };
    let marker_arm_view = if needs_marker(input) {
        quote!(#tail_name::__Marker(__never, _) => match __never {},)
    } else {
        quote!()
    };
    let marker_arm_from = if needs_marker(input) {
        quote!(#view_name::__Marker(__never, _) => match __never {},)
    } else {
        quote!()
    };

    let mut view_variants = Vec::new();
    let mut tail_variants = Vec::new();
    let mut min_terms = Vec::new();
    let mut max_terms = Vec::new();
    let mut tail_len_arms = Vec::new();
    let mut encode_arms = Vec::new();
    let mut verbatim_arms = Vec::new();
    let mut decode_arms = Vec::new();
    let mut view_arms = Vec::new();
    let mut from_arms = Vec::new();
    let mut debug_arms = Vec::new();

    for (index, v) in variants.iter().enumerate() {
        let id = v.ident;
        let index = index as u64;
        let tys: Vec<_> = v.fields.iter().map(|f| f.ty).collect();
        let binds: Vec<_> = (0..tys.len()).map(|i| format_ident!("__v{}", i)).collect();
        let fixeds: Vec<_> = (0..tys.len()).map(|i| format_ident!("__f{}", i)).collect();
        let tails: Vec<_> = (0..tys.len()).map(|i| format_ident!("__t{}", i)).collect();
        let ats: Vec<_> = (0..tys.len()).map(|i| format_ident!("__at{}", i)).collect();
        let names: Vec<_> = v.fields.iter().map(|f| &f.name).collect();
        let fp_names: Vec<_> = v.fields.iter().map(|f| &f.fp_name).collect();

        // Every `Wire` item of a field type is spanned at that type, so an
        // unsatisfied bound is reported there (see `super::wire`).
        let item =
            |name: &str| -> Vec<TokenStream> { tys.iter().map(|ty| wire(ty, name)).collect() };
        let view_tys: Vec<_> = tys.iter().map(|ty| wire_gat(ty, "View", "'__a")).collect();
        let tail_tys: Vec<_> = tys.iter().map(|ty| wire_gat(ty, "Tail", "'__a")).collect();
        let fixed_tys = item("Fixed");
        let min_len = item("MIN_LEN");
        let max_len = item("MAX_LEN");
        let encoded_len = item("encoded_len");
        let encode_fixed = item("encode_fixed");
        let encode_tail = item("encode_tail");
        let decode_tail = item("decode_tail");
        let verbatim = item("verbatim");
        let view = item("view");
        let from: Vec<_> = tys.iter().map(|ty| from_view(ty)).collect();

        view_variants.push(match v.style {
            Fields::Unit => quote!(#id,),
            Fields::Unnamed(_) => quote!(#id(#(#view_tys),*),),
            Fields::Named(_) => quote!(#id { #(#names: #view_tys),* },),
        });
        tail_variants.push(if tys.is_empty() {
            quote!(#id,)
        } else {
            quote!(#id(#(&'__a #fixed_tys, #tail_tys),*),)
        });
        let tag_len = quote!(::zerowire::__private::varint::len(#index));
        min_terms.push(quote!(#tag_len #(.saturating_add(#min_len))*));
        max_terms.push(quote!({
            let __m = ::zerowire::__private::core::option::Option::Some(#tag_len);
            #(let __m = ::zerowire::__private::max_add(__m, #max_len);)*
            __m
        }));
        let pat = v.pattern(quote!(Self), &binds);
        tail_len_arms.push(quote!(#pat => #tag_len #(.saturating_add(#encoded_len(#binds)))*,));
        encode_arms.push(quote!(#pat => {
            __w.put_varint(#index);
            #(#encode_fixed(#binds, __w);)*
            #(#encode_tail(#binds, __w);)*
        }));
        verbatim_arms.push(quote!(#pat => {
            let __run = ::zerowire::__private::core::option::Option::None;
            #(let __run = ::zerowire::__private::longer(__run, #verbatim(#binds));)*
            __run
        }));
        let tail_pat = if tys.is_empty() {
            quote!(#tail_name::#id)
        } else {
            quote!(#tail_name::#id(#(#fixeds, #tails),*))
        };
        let read_fixed = fixed_tys
            .iter()
            .map(|f| propagate(quote!(__r.fixed::<#f>())));
        let read_tail = decode_tail
            .iter()
            .zip(&fixeds)
            .zip(&ats)
            .map(|((d, f), at)| propagate(quote!(#d(#f, #at, __r))));
        decode_arms.push(quote!(#index => {
            #(
                let #ats = __r.pos();
                let #fixeds = #read_fixed;
            )*
            #(let #tails = #read_tail;)*
            ::zerowire::__private::core::result::Result::Ok(#tail_pat)
        }));
        let view_pat = v.pattern(quote!(#view_name), &binds);
        let view_build = match v.style {
            Fields::Unit => quote!(#view_name::#id),
            Fields::Unnamed(_) => quote!(#view_name::#id(#(#view(#fixeds, #tails)),*)),
            Fields::Named(_) => {
                quote!(#view_name::#id { #(#names: #view(#fixeds, #tails)),* })
            }
        };
        view_arms.push(quote!(#tail_pat => #view_build,));
        let from_build = match v.style {
            Fields::Unit => quote!(Self::#id),
            Fields::Unnamed(_) => quote!(Self::#id(#(#from(#binds)),*)),
            Fields::Named(_) => quote!(Self::#id { #(#names: #from(#binds)),* }),
        };
        from_arms.push(quote!(#view_pat => #from_build,));
        let vname = id.to_string();
        let pat_self = v.pattern(quote!(Self), &binds);
        debug_arms.push(match v.style {
            Fields::Unit => quote!(#pat_self => f.write_str(#vname),),
            Fields::Unnamed(_) => {
                quote!(#pat_self => f.debug_tuple(#vname)#(.field(#binds))*.finish(),)
            }
            Fields::Named(_) => {
                quote!(#pat_self => f.debug_struct(#vname)#(.field(#fp_names, #binds))*.finish(),)
            }
        });
    }

    let all_tys: Vec<_> = variants
        .iter()
        .flat_map(|v| v.fields.iter().map(|f| f.ty))
        .collect();
    let view_doc = format!(
        "A validated, borrowed view of an encoded [`{name}`]. Generated by `#[derive(Wire)]`."
    );
    let tail_doc = format!("The decoded tail of [`{name}`] (used by `{view_name}`).");
    let first_min = &min_terms[0];
    let rest_min = &min_terms[1..];
    let first_max = &max_terms[0];
    let rest_max = &max_terms[1..];

    let read_tag = propagate(quote!(__r.varint()));
    let debug_g = with_view_debug_bounds(&vg, &all_tys);
    let debug_where = &debug_g.where_clause;

    let copy_impls = copy_impls(&tail_name, &vg);

    quote! {
        #[doc = #view_doc]
        #vis enum #view_name #v_impl_g #v_where {
            #(#[allow(missing_docs)] #view_variants)*
            #marker_variant
        }

        #[doc = #tail_doc]
        #[doc(hidden)]
        #vis enum #tail_name #v_impl_g #v_where {
            #(#tail_variants)*
            #marker_variant
        }

        #copy_impls

        #[automatically_derived]
        impl #v_impl_g ::zerowire::__private::core::fmt::Debug for #view_name #v_ty_g
        #debug_where
        {
            fn fmt(&self, f: &mut ::zerowire::__private::core::fmt::Formatter<'_>) -> ::zerowire::__private::core::fmt::Result {
                match self {
                    #(#debug_arms)*
                    #marker_arm_debug
                }
            }
        }

        #[automatically_derived]
        impl #impl_g ::zerowire::Wire for #name #ty_g #where_c {
            type Fixed = [u8; 0];
            type Tail<'__a> = #tail_name #v_ty_g;
            type View<'__a> = #view_name #v_ty_g;
            const HAS_TAIL: bool = true;
            const CHECKS_FIXED: bool = false;
            const MIN_LEN: usize = {
                let __m = #first_min;
                #(let __m = ::zerowire::__private::min_min(__m, #rest_min);)*
                __m
            };
            const MAX_LEN: ::zerowire::__private::core::option::Option<usize> = {
                let __m = #first_max;
                #(let __m = ::zerowire::__private::max_max(__m, #rest_max);)*
                __m
            };
            const FINGERPRINT: u64 = #fp.finish();

            #[inline]
            fn encode_fixed(&self, _: &mut ::zerowire::__private::Writer<'_>) {}
            #[inline]
            fn tail_len(&self) -> usize {
                match self {
                    #(#tail_len_arms)*
                }
            }
            #[inline]
            fn encode_tail(&self, __w: &mut ::zerowire::__private::Writer<'_>) {
                match self {
                    #(#encode_arms)*
                }
            }
            #[inline]
            fn verbatim(&self) -> ::zerowire::__private::core::option::Option<&[u8]> {
                match self {
                    #(#verbatim_arms)*
                }
            }
            #[inline]
            fn decode_tail<'__a>(
                _: &'__a [u8; 0],
                _: usize,
                __r: &mut ::zerowire::__private::Reader<'__a>,
            ) -> ::zerowire::__private::core::result::Result<Self::Tail<'__a>, ::zerowire::__private::DecodeError> {
                let __tag_at = __r.pos();
                match #read_tag {
                    #(#decode_arms)*
                    __tag => ::zerowire::__private::core::result::Result::Err(
                        ::zerowire::__private::DecodeError::new(
                            ::zerowire::__private::DecodeErrorKind::InvalidTag(__tag),
                            __tag_at,
                        ),
                    ),
                }
            }
            #[inline]
            fn view<'__a>(_: &'__a [u8; 0], __tail: Self::Tail<'__a>) -> Self::View<'__a> {
                match __tail {
                    #(#view_arms)*
                    #marker_arm_view
                }
            }
        }

        #[automatically_derived]
        impl #f_impl_g ::zerowire::FromView<'__de> for #name #ty_g #f_where {
            #[inline]
            fn from_view(__view: <Self as ::zerowire::Wire>::View<'__de>) -> Self {
                match __view {
                    #(#from_arms)*
                    #marker_arm_from
                }
            }
        }
    }
}
