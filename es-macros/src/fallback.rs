//! What a derive emits when its input has errors: the errors, plus the items the user's other
//! code refers to (the enums, stub impls with `unreachable!()` bodies), so that one mistake
//! does not set off a second wave of unrelated errors. A name given is still checked against
//! its rule, so that a bad name is reported with the other errors rather than after them.

use proc_macro2::TokenStream;
use quote::quote;

use crate::ast;
use crate::ctxt::Ctxt;
use crate::expand::{NameRule, aggregate, dummy_const, fq, name_check, process};
use crate::valid;

pub(crate) fn event(error: &syn::Error, ir: Option<&ast::Event<'_>>) -> TokenStream {
    let errors = error.to_compile_error();
    let Some(ir) = ir.filter(|ir| ir.original.generics.params.is_empty()) else {
        return errors;
    };
    let ident = &ir.original.ident;
    let krate = valid::krate(ir.attrs.krate.as_ref());
    let name = ir
        .attrs
        .name
        .as_ref()
        .map_or_else(String::new, syn::LitStr::value);
    let check = ir
        .attrs
        .name
        .as_ref()
        .map(|lit| name_check(&krate, lit, NameRule::Event));
    let stub = dummy_const(&quote! {
        impl #krate::Event for #ident {
            const NAME: &'static str = #name;
            const VERSION: u32 = 1;
        }

        #check
    });
    quote!(#errors #stub)
}

pub(crate) fn command(error: &syn::Error, ir: Option<&ast::Command<'_>>) -> TokenStream {
    let errors = error.to_compile_error();
    let Some((ir, id)) = ir
        .filter(|ir| ir.original.generics.params.is_empty())
        .and_then(|ir| Some((ir, ir.ids.first()?)))
    else {
        return errors;
    };
    let ident = &ir.original.ident;
    let krate = valid::krate(ir.attrs.krate.as_ref());
    let name = ident.to_string();
    let id_ty = id.ty;
    let stub = dummy_const(&quote! {
        impl #krate::Command for #ident {
            const NAME: &'static str = #name;
            type Id = #id_ty;
            fn aggregate_id(&self) -> &Self::Id {
                ::core::unreachable!()
            }
        }
    });
    quote!(#errors #stub)
}

pub(crate) fn aggregate(error: &syn::Error, ir: Option<&ast::Aggregate<'_>>) -> TokenStream {
    let errors = error.to_compile_error();
    let Some(ir) = ir.filter(|ir| ir.original.generics.params.is_empty()) else {
        return errors;
    };
    let krate = valid::krate(ir.attrs.krate.as_ref());
    let check = ir
        .attrs
        .name
        .as_ref()
        .map(|lit| dummy_const(&name_check(&krate, lit, NameRule::Aggregate)));
    let errors = quote!(#errors #check);
    // The problems were reported already; this pass only recovers the enums' shape.
    let scratch = Ctxt::new();
    let shape = valid::shape(&scratch, ir);
    let _already_reported = scratch.check();
    let Some(shape) = shape else {
        return errors;
    };
    let enums = aggregate::enums(&shape);
    let conversions = aggregate::conversions(&shape);
    let stubs = match (&ir.attrs.id, &ir.attrs.error) {
        (Some(id), Some(error)) => stub_impls(&shape, id, error),
        _ => TokenStream::new(),
    };
    let wrapped = dummy_const(&quote!(#conversions #stubs));
    quote!(#errors #enums #wrapped)
}

/// `Aggregate`, `EventSet` and `CommandSet` impls whose bodies are never reached.
fn stub_impls(shape: &valid::Shape<'_>, id: &syn::Type, error: &syn::Type) -> TokenStream {
    let valid::Shape {
        ident,
        event_enum,
        command_enum,
        krate,
        ..
    } = shape;
    let result = fq::result();
    quote! {
        impl #krate::EventSet for #event_enum {
            const EVENTS: &'static [#krate::EventDescriptor] = &[];
            fn name(&self) -> &'static str { ::core::unreachable!() }
            fn version(&self) -> u32 { ::core::unreachable!() }
            fn encode<__Codec: #krate::Codec>(&self, _: &__Codec)
                -> #result<#krate::__private::Encoded, #krate::__private::CodecError> {
                ::core::unreachable!()
            }
            fn decode<'__e, __Codec: #krate::Codec>(
                _: &__Codec,
                _: impl ::core::convert::Into<#krate::__private::StoredEvent<'__e>>,
            ) -> #result<Self, #krate::DecodeError> {
                ::core::unreachable!()
            }
        }
        impl #krate::CommandSet for #command_enum {
            type Id = #id;
            fn name(&self) -> &'static str { ::core::unreachable!() }
            fn aggregate_id(&self) -> &#id { ::core::unreachable!() }
            fn validate(&self) -> #result<(), #krate::ValidationErrors> {
                ::core::unreachable!()
            }
        }
        impl #krate::Aggregate for #ident {
            const NAME: &'static str = "";
            type Id = #id;
            type Event = #event_enum;
            type Command = #command_enum;
            type Error = #error;
            fn apply_event(&mut self, _: &#event_enum) { ::core::unreachable!() }
            fn handle_command(&self, _: &#command_enum)
                -> #result<#krate::__private::Vec<#event_enum>, #error> {
                ::core::unreachable!()
            }
        }
    }
}

pub(crate) fn projection(error: &syn::Error, ir: Option<&ast::Projection<'_>>) -> TokenStream {
    let errors = error.to_compile_error();
    let Some(ir) = ir.filter(|ir| ir.original.generics.params.is_empty()) else {
        return errors;
    };
    let ident = &ir.original.ident;
    let krate = valid::krate(ir.attrs.krate.as_ref());
    let result = fq::result();
    let check = ir
        .attrs
        .name
        .as_ref()
        .map(|lit| name_check(&krate, lit, NameRule::Projection));
    let stub = dummy_const(&quote! {
        #check

        impl #krate::Projection for #ident {
            const NAME: &'static str = "";
            const EVENTS: &'static [#krate::EventDescriptor] = &[];
            fn project<__Codec: #krate::Codec>(&mut self, _: &__Codec, _: &#krate::RecordedEvent)
                -> #result<bool, #krate::DecodeError> {
                ::core::unreachable!()
            }
        }
    });
    quote!(#errors #stub)
}

pub(crate) fn process(error: &syn::Error, ir: Option<&ast::Process<'_>>) -> TokenStream {
    let errors = error.to_compile_error();
    let Some(ir) = ir.filter(|ir| ir.original.generics.params.is_empty()) else {
        return errors;
    };
    let krate = valid::krate(ir.attrs.krate.as_ref());
    let check = ir
        .attrs
        .name
        .as_ref()
        .map(|lit| dummy_const(&name_check(&krate, lit, NameRule::Process)));
    let errors = quote!(#errors #check);
    // The problems were reported already; this pass only recovers the enums' shape.
    let scratch = Ctxt::new();
    let shape = valid::process_shape(&scratch, ir);
    let _already_reported = scratch.check();
    let Some(shape) = shape else {
        return errors;
    };
    let enums = process::enums(&shape);
    let conversions = process::conversions(&shape);
    let timer_set = process::timer_set(&shape);
    // Without `key`, a path that does not resolve: rustc does not report it once a macro
    // reported an error, and takes it for an error type that agrees with every use of the
    // key (each `React::key` impl names it), where any stand-in type would contradict them.
    let missing_key = || -> syn::Type {
        let at = ir
            .attrs
            .seen
            .first
            .as_ref()
            .map_or_else(|| ir.original.ident.span(), syn::spanned::Spanned::span);
        let ident = syn::Ident::new("KeyType", at);
        syn::parse_quote!(#ident)
    };
    let key = ir.attrs.key.clone().unwrap_or_else(missing_key);
    let stub = process_stub(&shape, &key);
    let wrapped = dummy_const(&quote!(#conversions #timer_set #stub));
    quote!(#errors #enums #wrapped)
}

/// A `ProcessManager` impl whose bodies are never reached.
fn process_stub(shape: &valid::ProcessShape<'_>, key: &syn::Type) -> TokenStream {
    let valid::ProcessShape {
        ident,
        event_enum,
        command_enum,
        krate,
        ..
    } = shape;
    let result = fq::result();
    let process = quote!(#krate::process);
    let timer = process::timer_type(shape);
    quote! {
        impl #process::ProcessManager for #ident {
            const NAME: &'static str = "";
            const EVENTS: &'static [#krate::EventDescriptor] = &[];
            type Key = #key;
            type Event = #event_enum;
            type Command = #command_enum;
            type Timer = #timer;
            fn route<__Codec: #krate::Codec>(_: &__Codec, _: &#krate::RecordedEvent)
                -> #result<::core::option::Option<#process::Routing<Self>>, #krate::DecodeError> {
                ::core::unreachable!()
            }
            fn react_event(
                &mut self,
                _: &#event_enum,
                _: &#krate::projection::EventMeta,
                _: &mut #process::Reaction<Self>,
            ) {
                ::core::unreachable!()
            }
            async fn send_command(
                &mut self,
                _: &#command_enum,
                _: &#process::Router,
                _: #krate::CommandMeta,
                _: &mut #process::Reaction<Self>,
            ) -> #result<(), #process::SendError> {
                ::core::unreachable!()
            }
            fn fire_timer(&mut self, _: &#timer, _: &mut #process::Reaction<Self>) {
                ::core::unreachable!()
            }
        }
    }
}

/// An error for input the checks accepted but could not turn into code; never expected.
pub(crate) fn internal(input: &syn::DeriveInput, derive: &str) -> TokenStream {
    syn::Error::new_spanned(
        &input.ident,
        format!("es-macros could not expand `derive({derive})` for this input; please report it"),
    )
    .to_compile_error()
}
