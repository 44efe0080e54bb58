//! Macros for zerowire. Use them through the `zerowire` crate, which
//! re-exports them and the runtime items their expansions name.
//!
//! - `#[derive(Wire)]`: the wire encoding, a borrowed view type and owned
//!   decoding for a struct or enum (see `zerowire::Wire`).
#![deny(missing_docs)]

use proc_macro::TokenStream;

mod wire;

/// Derives `zerowire::Wire` and `zerowire::FromView` for a struct or enum, and
/// generates its fixed-block type (`NameFixed`) and borrowed view
/// (`NameView<'a>`).
///
/// Supported: structs (named, tuple, unit), fieldless enums (encoded as a
/// one-byte index in the fixed block), data-carrying enums (encoded in the
/// tail as an LPV variant index and the variant's fields), generic parameters
/// (bounded by `Wire`) and lifetimes. Rejected with an error that names the
/// fix: unions, `usize`/`isize`, raw pointers, trait objects, function
/// pointers, and recursive types.
#[proc_macro_derive(Wire, attributes(wire))]
pub fn derive_wire(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    wire::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
