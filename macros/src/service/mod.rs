//! `#[zerowire::service]`: parse → validate → expand.

mod expand;
mod parse;

use proc_macro2::TokenStream;

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let options = parse::options(attr)?;
    let trait_item: syn::ItemTrait = syn::parse2(item)?;
    let service = parse::service(&trait_item, options)?;
    Ok(expand::expand(&service))
}
