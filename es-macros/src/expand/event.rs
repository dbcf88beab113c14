//! `derive(Event)`: the `Event` impl carrying the wire name and schema version, and, for an
//! event that evolved (`upcast_from`), the decoding of older versions through the previous
//! type and its `From` conversion.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{DeriveInput, Path};

use crate::expand::describe::{self, path_of};
use crate::expand::{NameRule, as_event, dummy_const, fq, name_check, path_text};
use crate::valid;

pub(crate) fn expand(input: &valid::Event<'_>, original: &DeriveInput) -> TokenStream {
    let valid::Event {
        ident,
        name,
        version,
        upcast_from,
        krate,
    } = input;
    let older = upcast_from.map_or_else(String::new, |previous| {
        let previous = path_text(previous);
        format!(" Older versions decode as [`{previous}`] and convert with `From`.")
    });
    let doc = format!(
        "Stored under the wire name `\"{}\"`, schema version {version}.{older}",
        name.value()
    );
    let upcast = upcast_from.map(|previous| upcast(input, previous));
    let check = name_check(krate, name, NameRule::Event);
    let info = info(input, original);
    dummy_const(&quote! {
        #[doc = #doc]
        #[automatically_derived]
        impl #krate::Event for #ident {
            const NAME: &'static str = #name;
            const VERSION: u32 = #version;
            #info
            #upcast
        }

        #check
    })
}

/// `decode_payload` reading this version directly and older ones through `previous`, with
/// compile-time checks (spanned at `upcast_from = ..`) that `previous` has the same wire name
/// and a lower version.
fn upcast(input: &valid::Event<'_>, previous: &Path) -> TokenStream {
    let valid::Event { ident, krate, .. } = input;
    let result = fq::result();
    let prev = as_event(krate, previous);
    // Spanned at `upcast_from = ..` (with `Self`), so a missing `From` impl is reported there.
    let decode = quote_spanned! {previous.span()=>
        #krate::__private::decode_upcasting::<Self, #previous, __Codec>(__codec, __version, __payload)
    };
    let same_name = format!(
        "`upcast_from = {0}`: `{0}` must have the same wire name as `{ident}`",
        path_text(previous)
    );
    let older = format!(
        "`upcast_from = {0}`: `{0}` must have a lower schema version than `{ident}`",
        path_text(previous)
    );
    // Items nested in a fn cannot name the impl's `Self`: use the type itself.
    let this = quote!(<#ident as #krate::Event>);
    let checks = quote_spanned! {previous.span()=>
        const _: () = ::core::assert!(#krate::__private::str_eq(#prev::NAME, #this::NAME), #same_name);
        const _: () = ::core::assert!(#prev::VERSION < #this::VERSION, #older);
    };
    quote! {
        fn decode_payload<__Codec: #krate::Codec>(
            __codec: &__Codec,
            __version: u32,
            __payload: &[u8],
        ) -> #result<Self, #krate::error::PayloadError> {
            #checks
            #decode
        }
    }
}

/// `const INFO`: the wire name and version, the type's name, path, docs and fields, and the
/// previous version's `INFO`.
fn info(input: &valid::Event<'_>, original: &DeriveInput) -> TokenStream {
    let valid::Event {
        ident,
        name,
        version,
        upcast_from,
        krate,
    } = input;
    let rust_type = ident.to_string();
    let path = path_of(original);
    let doc = describe::doc(&original.attrs);
    let fields = describe::fields(krate, original);
    let upcast_from = if let Some(previous) = upcast_from {
        let prev = as_event(krate, previous);
        quote_spanned!(previous.span()=> ::core::option::Option::Some(&#prev::INFO))
    } else {
        quote!(::core::option::Option::None)
    };
    quote! {
        const INFO: #krate::catalog::EventInfo = #krate::catalog::EventInfo {
            name: #name,
            version: #version,
            rust_type: #rust_type,
            path: #path,
            doc: #doc,
            fields: #fields,
            upcast_from: #upcast_from,
        };
    }
}
