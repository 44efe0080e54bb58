//! Macros for zerowire. Use them through the `zerowire` crate, which
//! re-exports them and the runtime items their expansions name.
//!
//! - `#[derive(Wire)]`: the wire encoding, a borrowed view type and owned
//!   decoding for a struct or enum (see `zerowire::Wire`).
#![deny(missing_docs)]

use proc_macro::TokenStream;

mod service;
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

/// Turns a trait into an RPC service: the server trait you implement, a
/// dispatcher (`NameService<S>`, a `zerowire::rpc::Service`), an async client
/// (`NameClient<C>`) and a blocking one (`NameBlockingClient<C>`).
///
/// Methods take `&self`, any number of `Wire` arguments (at most 8), and
/// return a `Wire` type; `async fn` handlers return futures that are `Send`
/// unless the attribute says `#[service(local)]`; plain `fn` handlers run
/// without an executor. A method returning `Result<T, E>` gives clients
/// `Result<T, CallError<E>>` with the handler's error as `CallError::Remote`.
/// A first parameter `cx: &Ctx` receives the transport's connection context.
#[proc_macro_attribute]
pub fn service(attr: TokenStream, item: TokenStream) -> TokenStream {
    service::expand(attr.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
