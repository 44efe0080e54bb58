//! The generated items, one function each: the server trait, the method
//! table, the dispatcher, the reply enum and the two clients.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::Ident;

use super::parse::{Method, ServiceDef};

struct Names {
    service: Ident,
    reply: Ident,
    client: Ident,
    blocking: Ident,
    table: Ident,
}

fn camel(name: &Ident) -> Ident {
    let mut out = String::new();
    let mut upper = true;
    for c in name.to_string().trim_start_matches("r#").chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    Ident::new(&out, name.span())
}

pub(crate) fn expand(def: &ServiceDef) -> TokenStream {
    let name = &def.name;
    let names = Names {
        service: format_ident!("{}Service", name),
        reply: format_ident!("{}Reply", name),
        client: format_ident!("{}Client", name),
        blocking: format_ident!("{}BlockingClient", name),
        table: format_ident!("__ZEROWIRE_{}_METHODS", name.to_string().to_uppercase()),
    };
    let items = [
        server_trait(def),
        method_table(def, &names),
        arg_checks(def),
        reply_enum(def, &names),
        dispatcher(def, &names),
        async_client(def, &names),
        blocking_client(def, &names),
    ];
    quote!(#(#items)*)
}

/// The argument tuple's type, spanned at the first argument so that a
/// non-`Wire` argument is reported there.
fn args_tuple_ty(m: &Method) -> TokenStream {
    let tys = m.args.iter().map(|a| &a.ty);
    let span = m.args.first().map_or_else(Span::call_site, |a| a.ty.span());
    quote_spanned!(span=> (#(#tys,)*))
}

/// The handler's parameters after the context, as written (`name: Type`).
fn handler_params(m: &Method) -> Vec<TokenStream> {
    m.params
        .iter()
        .filter_map(|p| {
            let ty = m
                .args
                .iter()
                .find(|a| a.name == *p)
                .map(|a| &a.ty)
                .or_else(|| m.source.as_ref().filter(|s| s.name == *p).map(|s| &s.ty))
                .or_else(|| m.sink.as_ref().filter(|s| s.name == *p).map(|s| &s.ty))?;
            Some(quote!(#p: #ty))
        })
        .collect()
}

/// Whether a method has a request or reply stream.
fn streams(m: &Method) -> bool {
    m.source.is_some() || m.sink.is_some()
}

/// `(V, E)` of a method's result: `Result<V, E>`, or `(T, Infallible)`.
fn value_error(m: &Method) -> (TokenStream, TokenStream) {
    match &m.result {
        Some((v, e)) => (quote!(#v), quote!(#e)),
        None => {
            let out = &m.output;
            (quote!(#out), quote!(::core::convert::Infallible))
        }
    }
}

fn server_trait(def: &ServiceDef) -> TokenStream {
    let vis = &def.vis;
    let name = &def.name;
    let attrs = &def.attrs;
    let bounds = if def.options.local {
        quote!('static)
    } else {
        quote!(::core::marker::Send + ::core::marker::Sync + 'static)
    };
    let methods = def.methods.iter().map(|m| {
        let mname = &m.name;
        let mattrs = &m.attrs;
        let output = &m.output;
        let cx = m.context.as_ref().map(|(n, ty)| quote!(#n: &#ty,));
        let args = handler_params(m);
        if m.is_async {
            let send = if def.options.local { quote!() } else { quote!(+ ::core::marker::Send) };
            quote! {
                #(#mattrs)*
                fn #mname(&self, #cx #(#args),*) -> impl ::core::future::Future<Output = #output> #send;
            }
        } else {
            quote! {
                #(#mattrs)*
                fn #mname(&self, #cx #(#args),*) -> #output;
            }
        }
    });
    quote! {
        #(#attrs)*
        #vis trait #name: #bounds {
            #(#methods)*
        }
    }
}

fn method_table(def: &ServiceDef, names: &Names) -> TokenStream {
    let vis = &def.vis;
    let table = &names.table;
    let service = def.name.to_string();
    let n = def.methods.len();
    let entries = def.methods.iter().map(|m| {
        let mname = m.name.to_string();
        let args = args_tuple_ty(m);
        let out = &m.output;
        if streams(m) {
            // The items' types are part of the signature.
            let unit = quote!(());
            let req = m.source.as_ref().map_or(unit.clone(), |s| {
                let t = &s.item;
                quote!(#t)
            });
            let rep = m.sink.as_ref().map_or(unit, |s| {
                let t = &s.item;
                quote!(#t)
            });
            let (request, reply) = (m.source.is_some(), m.sink.is_some());
            return quote! {
                ::zerowire::proto::MethodDesc::new(
                    #service,
                    #mname,
                    ::zerowire::proto::signature_fingerprint(
                        <#args as ::zerowire::Wire>::FINGERPRINT,
                        <(#out, #req, #rep) as ::zerowire::Wire>::FINGERPRINT,
                    ),
                )
                .with_streams(::zerowire::proto::StreamKind { request: #request, reply: #reply })
            };
        }
        quote! {
            ::zerowire::proto::MethodDesc::new(
                #service,
                #mname,
                ::zerowire::proto::signature_fingerprint(
                    <#args as ::zerowire::Wire>::FINGERPRINT,
                    <#out as ::zerowire::Wire>::FINGERPRINT,
                ),
            )
        }
    });
    quote! {
        #[doc(hidden)]
        #vis static #table: [::zerowire::proto::MethodDesc; #n] = [#(#entries),*];
    }
}

/// Per-argument assertions spanned at the user's types, so a non-`Wire`
/// argument is reported there with `Wire`'s own message.
fn arg_checks(def: &ServiceDef) -> TokenStream {
    let checks = def.methods.iter().flat_map(|m| {
        let args = m.args.iter().map(|a| {
            let ty = &a.ty;
            quote_spanned!(ty.span()=> ::zerowire::__private::assert_wire::<#ty>();)
        });
        let items = m.source.iter().chain(m.sink.iter()).map(|s| {
            let ty = &s.item;
            quote_spanned!(ty.span()=> ::zerowire::__private::assert_wire::<#ty>();)
        });
        let out = &m.output;
        let ret = quote_spanned!(out.span()=> ::zerowire::__private::assert_wire::<#out>(););
        args.chain(items)
            .chain(core::iter::once(ret))
            .collect::<Vec<_>>()
    });
    quote! {
        const _: fn() = || {
            #(#checks)*
        };
    }
}

fn reply_enum(def: &ServiceDef, names: &Names) -> TokenStream {
    let vis = &def.vis;
    let reply = &names.reply;
    let doc = format!(
        "The result of any [`{}`] method, as the dispatcher encodes it.",
        def.name
    );
    let variants: Vec<_> = def.methods.iter().map(|m| camel(&m.name)).collect();
    let outs = def.methods.iter().map(|m| &m.output);
    quote! {
        #[doc = #doc]
        #[allow(missing_docs)]
        #vis enum #reply {
            #(#variants(#outs),)*
        }

        impl ::zerowire::Encode for #reply {
            fn encoded_len(&self) -> usize {
                match self {
                    #(Self::#variants(v) => ::zerowire::Encode::encoded_len(v),)*
                }
            }
            fn encode(&self, buf: &mut [u8]) -> ::core::result::Result<usize, ::zerowire::EncodeError> {
                match self {
                    #(Self::#variants(v) => ::zerowire::Encode::encode(v, buf),)*
                }
            }
            fn verbatim_part(&self) -> ::core::option::Option<&[u8]> {
                match self {
                    #(Self::#variants(v) => ::zerowire::Encode::verbatim_part(v),)*
                }
            }
            fn encode_leaving_out(&self, rest: &mut [u8], run: &[u8]) -> ::core::option::Option<usize> {
                match self {
                    #(Self::#variants(v) => ::zerowire::Encode::encode_leaving_out(v, rest, run),)*
                }
            }
        }
    }
}

fn dispatcher(def: &ServiceDef, names: &Names) -> TokenStream {
    let vis = &def.vis;
    let name = &def.name;
    let service = &names.service;
    let reply = &names.reply;
    let table = &names.table;
    let n = def.methods.len();
    let cx_ty = match &def.context {
        Some(ty) => quote!(#ty),
        None => quote!(__Cx),
    };
    let cx_param = if def.context.is_some() {
        quote!()
    } else {
        quote!(__Cx: ?::core::marker::Sized + ::core::marker::Sync,)
    };
    let cx_param_local = if def.context.is_some() {
        quote!()
    } else {
        quote!(__Cx: ?::core::marker::Sized,)
    };
    let doc = format!(
        "Serves a [`{name}`] implementation on a connection: the dispatcher \
         (`zerowire::rpc::Service`) that decodes each call's arguments and runs its handler."
    );

    let mut async_arms = Vec::new();
    let mut sync_arms = Vec::new();
    let mut stream_arms = Vec::new();
    // `call_shared`: the async arms with `Bytes` arguments sharing the body.
    let mut shared_arms = Vec::new();
    for (i, m) in def.methods.iter().enumerate() {
        let index = i as u16;
        let mname = &m.name;
        let variant = camel(&m.name);
        let args_ty = args_tuple_ty(m);
        let arg_names: Vec<_> = m.args.iter().map(|a| &a.name).collect();
        let cx_arg = m.context.as_ref().map(|_| quote!(__cx,));
        let span = m.args.first().map_or_else(Span::call_site, |a| a.ty.span());
        // `let (a, b, ..) = <decoder>::<(A, B, ..)>(__body)?;`, spanned at
        // the first argument so a non-`Wire` one is reported there.
        let decoded = |decoder: &str| {
            let decoder = Ident::new(decoder, Span::call_site());
            let call = quote_spanned!(span=> ::zerowire::rpc::#decoder::<#args_ty>(__body));
            quote!(let (#(#arg_names,)*) = #call?;)
        };
        let decode = decoded("decode_args");
        if streams(m) {
            let refuse = quote! {
                #index => ::core::result::Result::Err(::zerowire::rpc::Refusal::NeedsStreams),
            };
            async_arms.push(refuse.clone());
            shared_arms.push(refuse.clone());
            sync_arms.push(refuse);
            let source = m.source.as_ref().map(|s| {
                let n = &s.name;
                quote! {
                    let #n = ::zerowire::rpc::Source::new(
                        __streams.source.take().ok_or(::zerowire::rpc::Refusal::NeedsStreams)?,
                    );
                }
            });
            let sink = m.sink.as_ref().map(|s| {
                let n = &s.name;
                quote! {
                    let #n = ::zerowire::rpc::Sink::new(
                        __streams.sink.take().ok_or(::zerowire::rpc::Refusal::NeedsStreams)?,
                    );
                }
            });
            let params = &m.params;
            stream_arms.push(quote! {
                #index => {
                    #decode
                    #source
                    #sink
                    ::core::result::Result::Ok(#reply::#variant(self.0.#mname(#cx_arg #(#params),*).await))
                }
            });
            continue;
        }
        // The same arm for `call`, `call_shared` (another decoder) and, for
        // a plain `fn`, `call_sync`.
        let awaited = m.is_async.then(|| quote!(.await));
        let arm = |decode: &TokenStream| {
            quote! {
                #index => {
                    #decode
                    ::core::result::Result::Ok(#reply::#variant(self.0.#mname(#cx_arg #(#arg_names),*) #awaited))
                }
            }
        };
        async_arms.push(arm(&decode));
        shared_arms.push(arm(&decoded("decode_args_shared")));
        sync_arms.push(if m.is_async {
            quote! {
                #index => ::core::result::Result::Err(::zerowire::rpc::Refusal::NeedsExecutor),
            }
        } else {
            arm(&decode)
        });
    }

    let streaming_fn = if stream_arms.is_empty() {
        quote!()
    } else {
        quote! {
            ::zerowire::__if_alloc! {
            #[allow(unused_variables)]
            fn call_streaming<'__a>(
                &'__a self,
                __cx: &'__a #cx_ty,
                __method: u16,
                __body: &'__a [u8],
                mut __streams: ::zerowire::rpc::Streams,
            ) -> impl ::core::future::Future<Output = ::core::result::Result<#reply, ::zerowire::rpc::Refusal>> + ::core::marker::Send + '__a {
                async move {
                    match __method {
                        #(#stream_arms)*
                        _ => ::core::result::Result::Err(::zerowire::rpc::Refusal::UnknownMethod),
                    }
                }
            }
            }
        }
    };
    let shared_fn = quote! {
        ::zerowire::__if_bytes! {
            #[allow(unused_variables)]
            fn call_shared<'__a>(
                &'__a self,
                __cx: &'__a #cx_ty,
                __method: u16,
                __body: &'__a ::zerowire::__private::Bytes,
            ) -> impl ::core::future::Future<Output = ::core::result::Result<#reply, ::zerowire::rpc::Refusal>> + ::core::marker::Send + '__a {
                async move {
                    match __method {
                        #(#shared_arms)*
                        _ => ::core::result::Result::Err(::zerowire::rpc::Refusal::UnknownMethod),
                    }
                }
            }
        }
    };
    let impl_for = |local: bool| {
        let streaming = if local {
            quote!()
        } else {
            let streaming = &streaming_fn;
            quote!(#streaming #shared_fn)
        };
        let (trait_path, send, params) = if local {
            (
                quote!(::zerowire::rpc::LocalService),
                quote!(),
                &cx_param_local,
            )
        } else {
            (
                quote!(::zerowire::rpc::Service),
                quote!(+ ::core::marker::Send),
                &cx_param,
            )
        };
        quote! {
            #[automatically_derived]
            impl<#params __S: #name> #trait_path<#cx_ty> for #service<__S> {
                type Reply = #reply;

                fn method_count(&self) -> usize {
                    #n
                }

                fn method(&self, index: usize) -> ::core::option::Option<&'static ::zerowire::proto::MethodDesc> {
                    #table.get(index)
                }

                #[allow(unused_variables)]
                fn call<'__a>(
                    &'__a self,
                    __cx: &'__a #cx_ty,
                    __method: u16,
                    __body: &'__a [u8],
                ) -> impl ::core::future::Future<Output = ::core::result::Result<#reply, ::zerowire::rpc::Refusal>> #send + '__a {
                    async move {
                        match __method {
                            #(#async_arms)*
                            _ => ::core::result::Result::Err(::zerowire::rpc::Refusal::UnknownMethod),
                        }
                    }
                }

                #streaming

                #[allow(unused_variables, unreachable_code)]
                fn call_sync(
                    &self,
                    __cx: &#cx_ty,
                    __method: u16,
                    __body: &[u8],
                ) -> ::core::result::Result<#reply, ::zerowire::rpc::Refusal> {
                    match __method {
                        #(#sync_arms)*
                        _ => ::core::result::Result::Err(::zerowire::rpc::Refusal::UnknownMethod),
                    }
                }
            }
        }
    };
    let local_impl = impl_for(true);
    let send_impl = if def.options.local {
        quote!()
    } else {
        impl_for(false)
    };
    quote! {
        #[doc = #doc]
        #vis struct #service<S>(pub S);

        impl<S> #service<S> {
            /// Wraps an implementation for serving.
            pub fn new(inner: S) -> Self {
                Self(inner)
            }

            /// The method table, in dispatch order.
            pub fn methods() -> &'static [::zerowire::proto::MethodDesc] {
                &#table
            }
        }

        #send_impl
        #local_impl
    }
}

/// The client method body's call and the mapping of a typed error.
fn client_call(
    m: &Method,
    index: usize,
    table: &Ident,
    blocking: bool,
) -> (TokenStream, TokenStream) {
    let args_ty = args_tuple_ty(m);
    let arg_names: Vec<_> = m.args.iter().map(|a| &a.name).collect();
    let out = &m.output;
    let span = m
        .args
        .first()
        .map_or_else(|| m.output.span(), |a| a.ty.span());
    let call = if blocking {
        quote_spanned!(span=> ::zerowire::rpc::BlockingCaller::call_blocking::<#args_ty, #out>(&self.caller, &#table[#index], (#(#arg_names,)*), self.options))
    } else {
        quote_spanned!(span=> ::zerowire::rpc::Caller::call::<#args_ty, #out>(&self.caller, &#table[#index], (#(#arg_names,)*), self.options).await)
    };
    match &m.result {
        Some((t, e)) => (
            quote!(::core::result::Result<#t, ::zerowire::rpc::CallError<#e>>),
            quote! {
                match #call {
                    ::core::result::Result::Ok(::core::result::Result::Ok(v)) => ::core::result::Result::Ok(v),
                    ::core::result::Result::Ok(::core::result::Result::Err(e)) => {
                        ::core::result::Result::Err(::zerowire::rpc::CallError::Remote(e))
                    }
                    ::core::result::Result::Err(e) => ::core::result::Result::Err(e.widen()),
                }
            },
        ),
        None => (
            quote!(::core::result::Result<#out, ::zerowire::rpc::CallError>),
            call,
        ),
    }
}

/// A streaming method of the async client: `Streaming` for a reply
/// stream, the result for a request stream only.
fn client_streaming(m: &Method, index: usize, table: &Ident) -> TokenStream {
    let mname = &m.name;
    let mattrs = m.attrs.iter().filter(|a| a.path().is_ident("doc"));
    let args_ty = args_tuple_ty(m);
    let arg_names: Vec<_> = m.args.iter().map(|a| &a.name).collect();
    let mut params: Vec<TokenStream> = m
        .args
        .iter()
        .map(|a| {
            let (n, t) = (&a.name, &a.ty);
            quote!(#n: #t)
        })
        .collect();
    let input = match &m.source {
        Some(s) => {
            let (n, item) = (&s.name, &s.item);
            params.push(quote!(#n: impl ::zerowire::rpc::Stream<Item = #item> + ::core::marker::Send + 'static));
            quote!(::core::option::Option::Some(::zerowire::rpc::encode_stream(#n)))
        }
        None => quote!(::core::option::Option::None),
    };
    let out = &m.output;
    let (v, e) = value_error(m);
    let decode = match &m.result {
        Some(_) => quote! {
            |__b| match ::zerowire::wire::decode_owned::<#out>(__b) {
                ::core::result::Result::Ok(::core::result::Result::Ok(v)) => ::core::result::Result::Ok(v),
                ::core::result::Result::Ok(::core::result::Result::Err(e)) => {
                    ::core::result::Result::Err(::zerowire::rpc::CallError::Remote(e))
                }
                ::core::result::Result::Err(d) => {
                    ::core::result::Result::Err(::zerowire::rpc::CallError::BadResponse(d))
                }
            }
        },
        None => quote! {
            |__b| ::zerowire::wire::decode_owned::<#out>(__b).map_err(::zerowire::rpc::CallError::BadResponse)
        },
    };
    let start = quote! {
        ::zerowire::rpc::Caller::call_streaming::<#args_ty>(
            &self.caller,
            &#table[#index],
            (#(#arg_names,)*),
            #input,
            self.options,
        )
    };
    // Streaming clients need a heap: without `alloc` the method is left
    // out (the trait and its method table stay usable).
    match &m.sink {
        Some(s) => {
            let item = &s.item;
            quote! {
                ::zerowire::__if_alloc! {
                    #(#mattrs)*
                    pub fn #mname(&self, #(#params),*) -> ::zerowire::rpc::Streaming<#item, #v, #e> {
                        ::zerowire::rpc::Streaming::new(#start, #decode)
                    }
                }
            }
        }
        None => quote! {
            ::zerowire::__if_alloc! {
                #(#mattrs)*
                pub async fn #mname(&self, #(#params),*) -> ::core::result::Result<#v, ::zerowire::rpc::CallError<#e>> {
                    ::zerowire::rpc::Streaming::<(), #v, #e>::new(#start, #decode).result().await
                }
            }
        },
    }
}

fn client_methods(def: &ServiceDef, names: &Names, blocking: bool) -> Vec<TokenStream> {
    def.methods
        .iter()
        .enumerate()
        .filter(|(_, m)| !(blocking && streams(m)))
        .map(|(i, m)| {
            if streams(m) {
                return client_streaming(m, i, &names.table);
            }
            let mname = &m.name;
            let mattrs = m.attrs.iter().filter(|a| a.path().is_ident("doc"));
            let args = m.args.iter().map(|a| {
                let (n, t) = (&a.name, &a.ty);
                quote!(#n: #t)
            });
            let (ret, body) = client_call(m, i, &names.table, blocking);
            let asyncness = if blocking { quote!() } else { quote!(async) };
            let span = Span::call_site();
            quote_spanned! {span=>
                #(#mattrs)*
                pub #asyncness fn #mname(&self, #(#args),*) -> #ret {
                    #body
                }
            }
        })
        .collect()
}

fn client_struct(
    def: &ServiceDef,
    ident: &Ident,
    bound: TokenStream,
    doc: String,
    methods: Vec<TokenStream>,
) -> TokenStream {
    let vis = &def.vis;
    quote! {
        #[doc = #doc]
        #[derive(::core::clone::Clone, ::core::fmt::Debug)]
        #vis struct #ident<C> {
            caller: C,
            options: ::zerowire::rpc::CallOptions,
        }

        impl<C: #bound> #ident<C> {
            /// A client that calls through `caller` (a transport's connection handle).
            pub fn new(caller: C) -> Self {
                Self { caller, options: <::zerowire::rpc::CallOptions as ::core::default::Default>::default() }
            }

            /// The same client with a deadline for each call: after `timeout`
            /// a call fails with `DeadlineExceeded` and is cancelled at the callee.
            pub fn with_timeout(mut self, timeout: ::core::time::Duration) -> Self {
                self.options.timeout = ::core::option::Option::Some(timeout);
                self
            }

            /// The transport handle.
            pub fn caller(&self) -> &C {
                &self.caller
            }

            #(#methods)*
        }
    }
}

fn async_client(def: &ServiceDef, names: &Names) -> TokenStream {
    let doc = format!(
        "Calls a remote [`{}`]: each method sends a call and awaits its result; dropping the \
         future cancels the call at the callee.",
        def.name
    );
    client_struct(
        def,
        &names.client,
        quote!(::zerowire::rpc::Caller),
        doc,
        client_methods(def, names, false),
    )
}

fn blocking_client(def: &ServiceDef, names: &Names) -> TokenStream {
    let doc = format!(
        "Calls a remote [`{}`] from synchronous code: each method blocks the current thread \
         until the result arrives (do not use it on an async runtime's worker thread). \
         Streaming methods are on the async client only.",
        def.name
    );
    client_struct(
        def,
        &names.blocking,
        quote!(::zerowire::rpc::BlockingCaller),
        doc,
        client_methods(def, names, true),
    )
}
