//! Validation: every independent error is collected and reported at the
//! user's tokens.

use syn::visit::Visit;
use syn::{Data, DeriveInput, Type};

struct TypeCheck<'a> {
    self_name: &'a syn::Ident,
    errors: Vec<syn::Error>,
}

impl<'ast> Visit<'ast> for TypeCheck<'_> {
    fn visit_type(&mut self, ty: &'ast Type) {
        match ty {
            Type::Ptr(p) => self.errors.push(syn::Error::new_spanned(
                p,
                "raw pointers cannot be sent over the wire: the address means nothing to the \
                 peer; send the pointed-to data instead (a value, `&[u8]`, `Vec<T>`)",
            )),
            Type::TraitObject(t) => self.errors.push(syn::Error::new_spanned(
                t,
                "trait objects have no wire encoding: use a concrete type or an enum of the \
                 possible types",
            )),
            Type::BareFn(f) => self.errors.push(syn::Error::new_spanned(
                f,
                "function pointers cannot be sent over the wire: send an enum naming the \
                 operation instead",
            )),
            Type::ImplTrait(t) => self.errors.push(syn::Error::new_spanned(
                t,
                "`impl Trait` has no wire encoding: use a concrete type",
            )),
            _ => {}
        }
        syn::visit::visit_type(self, ty);
    }

    fn visit_type_path(&mut self, p: &'ast syn::TypePath) {
        // Only a bare name can be a primitive or this type itself: `v1::Config`
        // inside `Config` is another type.
        if p.qself.is_none() && p.path.leading_colon.is_none() && p.path.segments.len() == 1 {
            let id = &p.path.segments[0].ident;
            if id == "usize" || id == "isize" {
                let fix = if id == "usize" {
                    "u32 or u64"
                } else {
                    "i32 or i64"
                };
                self.errors.push(syn::Error::new_spanned(
                    id,
                    format!(
                        "`{id}` has no wire encoding: its size differs between the desktop \
                         (64 bits) and the microcontroller (32 bits); use {fix}"
                    ),
                ));
            } else if id == self.self_name || id == "Self" {
                self.errors.push(syn::Error::new_spanned(
                    id,
                    format!(
                        "recursive wire types are not supported: `{name}` contains itself, so \
                         its encoding has no bounded nesting depth; keep the nodes in a \
                         separate list (e.g. `struct Tree {{ nodes: Vec<{name}> }}`) and store \
                         children as indices (`Vec<u32>`) instead",
                        name = self.self_name
                    ),
                ));
            }
        } else if p.path.segments.first().is_some_and(|s| s.ident == "Self") {
            self.errors.push(syn::Error::new_spanned(
                p,
                "recursive wire types are not supported: a field cannot mention `Self`",
            ));
        }
        syn::visit::visit_type_path(self, p);
    }

    // Array lengths are expressions, not field types: nothing to check there.
    fn visit_expr(&mut self, _: &'ast syn::Expr) {}
}

pub(crate) fn check_input(input: &DeriveInput) -> syn::Result<()> {
    let mut check = TypeCheck {
        self_name: &input.ident,
        errors: Vec::new(),
    };
    for attr in &input.attrs {
        if attr.path().is_ident("wire") {
            check.errors.push(syn::Error::new_spanned(
                attr,
                "`#[wire(...)]` takes no options in this version; remove it",
            ));
        }
    }
    let fields: Vec<&syn::Field> = match &input.data {
        Data::Struct(s) => s.fields.iter().collect(),
        Data::Enum(e) => e.variants.iter().flat_map(|v| v.fields.iter()).collect(),
        Data::Union(_) => Vec::new(),
    };
    for field in fields {
        for attr in &field.attrs {
            if attr.path().is_ident("wire") {
                check.errors.push(syn::Error::new_spanned(
                    attr,
                    "`#[wire(...)]` takes no options in this version; remove it",
                ));
            }
        }
        if field.ident.as_ref().is_some_and(|i| i == "fixed_block") {
            check.errors.push(syn::Error::new_spanned(
                field.ident.as_ref(),
                "a wire field cannot be named `fixed_block`: the generated view has a method \
                 of that name; rename the field",
            ));
        }
        check.visit_type(&field.ty);
    }
    let mut errors = check.errors.into_iter();
    match errors.next() {
        None => Ok(()),
        Some(mut first) => {
            for e in errors {
                first.combine(e);
            }
            Err(first)
        }
    }
}
