//! Reading and validating the annotated trait. Independent errors are
//! collected and reported together, each at the user's tokens.

use proc_macro2::TokenStream;
use syn::spanned::Spanned;
use syn::{
    FnArg, GenericArgument, Ident, ItemTrait, Pat, PathArguments, ReturnType, TraitItem, Type,
};

/// `#[service(...)]` options.
#[derive(Default)]
pub(crate) struct Options {
    /// `local`: handler futures need not be `Send`.
    pub local: bool,
}

pub(crate) fn options(attr: TokenStream) -> syn::Result<Options> {
    let mut options = Options::default();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("local") {
            options.local = true;
            Ok(())
        } else {
            Err(meta.error("unknown option: `#[service]` takes only `local` (handler futures need not be `Send`)"))
        }
    });
    syn::parse::Parser::parse2(parser, attr)?;
    Ok(options)
}

/// One argument of a method.
pub(crate) struct Arg {
    pub name: Ident,
    pub ty: Type,
}

/// A stream parameter: `name: Source<T>` (request stream) or
/// `name: Sink<T>` (reply stream); `item` is `T`.
pub(crate) struct StreamParam {
    pub name: Ident,
    /// The parameter's type as written.
    pub ty: Type,
    pub item: Type,
}

/// One method of the service.
pub(crate) struct Method {
    pub name: Ident,
    pub attrs: Vec<syn::Attribute>,
    pub is_async: bool,
    /// `cx: &Ctx`, if the handler wants the connection's context.
    pub context: Option<(Ident, Type)>,
    /// The wire arguments (stream parameters excluded).
    pub args: Vec<Arg>,
    /// The request stream parameter (`Source<T>`).
    pub source: Option<StreamParam>,
    /// The reply stream parameter (`Sink<T>`).
    pub sink: Option<StreamParam>,
    /// Every parameter after the context, in the written order (the
    /// handler's signature).
    pub params: Vec<Ident>,
    /// The declared output type (`()` when none).
    pub output: Type,
    /// `(T, E)` when the output is spelled `Result<T, E>`.
    pub result: Option<(Type, Type)>,
}

pub(crate) struct ServiceDef {
    pub options: Options,
    pub vis: syn::Visibility,
    pub name: Ident,
    pub attrs: Vec<syn::Attribute>,
    pub methods: Vec<Method>,
    /// The context type shared by every method that takes one.
    pub context: Option<Type>,
}

/// Names of the generated clients' own methods.
const RESERVED: &[&str] = &["new", "with_timeout", "caller", "into_caller", "methods"];

struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(first) => first.combine(e),
            None => self.0 = Some(e),
        }
    }
}

pub(crate) fn service(item: &ItemTrait, options: Options) -> syn::Result<ServiceDef> {
    let mut errors = Errors(None);
    if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
        errors.push(syn::Error::new_spanned(
            &item.generics,
            "generic services are not supported: both ends must agree on every method's wire \
             types; use concrete types (a generic *message* type is fine: `Reading<u16>`)",
        ));
    }
    if let Some(colon) = &item.colon_token {
        errors.push(syn::Error::new_spanned(
            colon,
            "supertraits are not supported on a service trait; remove them",
        ));
    }
    let mut methods = Vec::new();
    let mut context: Option<Type> = None;
    for entry in &item.items {
        let TraitItem::Fn(f) = entry else {
            errors.push(syn::Error::new_spanned(
                entry,
                "a service trait holds only methods; move constants and types out of it",
            ));
            continue;
        };
        match method(f, &mut errors) {
            Some(m) => {
                if let Some((_, ty)) = &m.context {
                    match &context {
                        None => context = Some(ty.clone()),
                        Some(prev)
                            if quote::quote!(#prev).to_string()
                                == quote::quote!(#ty).to_string() => {}
                        Some(_) => errors.push(syn::Error::new_spanned(
                            ty,
                            "every method of a service must take the same context type",
                        )),
                    }
                }
                methods.push(m);
            }
            None => continue,
        }
    }
    if options.local {
        if let Some(m) = methods
            .iter()
            .find(|m| m.source.is_some() || m.sink.is_some())
        {
            errors.push(syn::Error::new_spanned(
                &m.name,
                "streaming methods need a `Send` service: remove `local` from `#[service]` \
                 (stream handlers run on a multi-threaded transport)",
            ));
        }
    }
    if methods.len() > 128 {
        errors.push(syn::Error::new_spanned(
            &item.ident,
            "a service has at most 128 methods; split it",
        ));
    }
    if let Some(e) = errors.0 {
        return Err(e);
    }
    Ok(ServiceDef {
        options,
        vis: item.vis.clone(),
        name: item.ident.clone(),
        attrs: item.attrs.clone(),
        methods,
        context,
    })
}

fn method(f: &syn::TraitItemFn, errors: &mut Errors) -> Option<Method> {
    let sig = &f.sig;
    let mut ok = true;
    let mut fail = |e: syn::Error| {
        errors.push(e);
        ok = false;
    };
    if RESERVED.iter().any(|r| sig.ident == r) {
        fail(syn::Error::new_spanned(
            &sig.ident,
            format!(
                "a service method cannot be named `{}`: the generated client has a method of \
                 that name; rename it",
                sig.ident
            ),
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        fail(syn::Error::new_spanned(
            &sig.generics,
            "generic methods are not supported: a method's wire types must be fixed; use \
             concrete types",
        ));
    }
    if let Some(body) = &f.default {
        fail(syn::Error::new_spanned(
            body,
            "service methods cannot have a default body: implement them in the `impl`",
        ));
    }
    if let Some(c) = &sig.constness {
        fail(syn::Error::new_spanned(
            c,
            "service methods cannot be `const`",
        ));
    }
    if let Some(u) = &sig.unsafety {
        fail(syn::Error::new_spanned(
            u,
            "service methods cannot be `unsafe`",
        ));
    }
    if let Some(v) = &sig.variadic {
        fail(syn::Error::new_spanned(
            v,
            "service methods cannot be variadic",
        ));
    }
    let mut inputs = sig.inputs.iter();
    match inputs.next() {
        Some(FnArg::Receiver(r))
            if r.reference.is_some() && r.mutability.is_none() && r.colon_token.is_none() => {}
        Some(FnArg::Receiver(r)) => fail(syn::Error::new_spanned(
            r,
            "service methods take `&self`: handlers run concurrently, so they cannot take \
             `self` or `&mut self`; keep mutable state behind a `Mutex` or an atomic",
        )),
        _ => fail(syn::Error::new(
            sig.ident.span(),
            "service methods take `&self` as their first parameter (handlers are methods of \
             the server value)",
        )),
    }
    let mut context = None;
    let mut args = Vec::new();
    let mut source: Option<StreamParam> = None;
    let mut sink: Option<StreamParam> = None;
    let mut params = Vec::new();
    for (i, input) in inputs.enumerate() {
        let FnArg::Typed(pt) = input else { continue };
        let name = match &*pt.pat {
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => p.ident.clone(),
            other => {
                fail(syn::Error::new_spanned(
                    other,
                    "service method parameters must be plain names (`x: u32`), not patterns",
                ));
                continue;
            }
        };
        if i == 0 && (name == "cx" || name == "ctx") {
            match &*pt.ty {
                Type::Reference(r) if r.mutability.is_none() => {
                    context = Some((name, (*r.elem).clone()));
                    continue;
                }
                other => {
                    fail(syn::Error::new_spanned(
                        other,
                        "the context parameter is a shared reference: `cx: &Context`",
                    ));
                    continue;
                }
            }
        }
        if let Type::ImplTrait(t) = &*pt.ty {
            fail(syn::Error::new_spanned(
                t,
                "`impl Trait` arguments are not supported: use a concrete `Wire` type",
            ));
            continue;
        }
        params.push(name.clone());
        if let Some((kind, item)) = stream_param(&pt.ty) {
            let slot = if kind == "Source" {
                &mut source
            } else {
                &mut sink
            };
            if slot.is_some() {
                fail(syn::Error::new_spanned(
                    &pt.ty,
                    format!(
                        "a method has at most one `{kind}<T>` parameter: send several kinds of \
                         items as one `#[derive(Wire)]` enum"
                    ),
                ));
                continue;
            }
            *slot = Some(StreamParam {
                name,
                ty: (*pt.ty).clone(),
                item,
            });
            continue;
        }
        args.push(Arg {
            name,
            ty: (*pt.ty).clone(),
        });
    }
    if args.len() > 8 {
        fail(syn::Error::new(
            sig.inputs.span(),
            "a service method takes at most 8 arguments; group them in a `#[derive(Wire)]` struct",
        ));
    }
    let output: Type = match &sig.output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, ty) => (**ty).clone(),
    };
    if let Type::ImplTrait(t) = &output {
        fail(syn::Error::new_spanned(
            t,
            "return a concrete `Wire` type; write `async fn` for asynchronous handlers",
        ));
    }
    let result = result_parts(&output);
    if (source.is_some() || sink.is_some()) && sig.asyncness.is_none() {
        fail(syn::Error::new(
            sig.ident.span(),
            "a streaming method (with a `Source` or `Sink` parameter) must be an `async fn`: \
             its handler awaits the stream",
        ));
    }
    if !ok {
        return None;
    }
    Some(Method {
        name: sig.ident.clone(),
        attrs: f.attrs.clone(),
        is_async: sig.asyncness.is_some(),
        context,
        args,
        source,
        sink,
        params,
        output,
        result,
    })
}

/// `Some(("Source" | "Sink", T))` for a parameter type `Source<T>` or
/// `Sink<T>` (any path ending so, e.g. `zerowire::rpc::Sink<T>`).
fn stream_param(ty: &Type) -> Option<(&'static str, Type)> {
    let Type::Path(p) = ty else { return None };
    if p.qself.is_some() {
        return None;
    }
    let last = p.path.segments.last()?;
    let kind = if last.ident == "Source" {
        "Source"
    } else if last.ident == "Sink" {
        "Sink"
    } else {
        return None;
    };
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    if args.args.len() != 1 {
        return None;
    }
    match args.args.first()? {
        GenericArgument::Type(t) => Some((kind, t.clone())),
        _ => None,
    }
}

/// `Some((T, E))` for `Result<T, E>` spelled with two type arguments (any
/// path ending in `Result`); a one-argument alias is an ordinary type.
fn result_parts(ty: &Type) -> Option<(Type, Type)> {
    let Type::Path(p) = ty else { return None };
    if p.qself.is_some() {
        return None;
    }
    let last = p.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    let mut types = args.args.iter().filter_map(|a| match a {
        GenericArgument::Type(t) => Some(t.clone()),
        _ => None,
    });
    let (t, e) = (types.next()?, types.next()?);
    if types.next().is_some() || args.args.len() != 2 {
        return None;
    }
    Some((t, e))
}
