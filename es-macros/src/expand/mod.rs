//! Code generation from checked input. Generated code names everything by absolute path
//! (`::core::..` or the es-core path, `::es_core` unless `crate = ".."` says otherwise), so
//! user items named `Result`, `Option` or `core` cannot capture it.

pub(crate) mod aggregate;
pub(crate) mod command;
pub(crate) mod event;

use proc_macro2::TokenStream;
use quote::quote;
use syn::Path;

/// Absolute paths of the standard items generated code uses.
pub(crate) mod fq {
    use proc_macro2::TokenStream;
    use quote::quote;

    pub(crate) fn result() -> TokenStream {
        quote!(::core::result::Result)
    }
    pub(crate) fn from() -> TokenStream {
        quote!(::core::convert::From)
    }
}

/// Wraps generated impls in an anonymous constant, so their helper items stay private.
pub(crate) fn dummy_const(body: &TokenStream) -> TokenStream {
    quote! {
        const _: () = {
            #body
        };
    }
}

/// The `Vec` path of the es-core the user chose.
pub(crate) fn vec(krate: &Path) -> TokenStream {
    quote!(#krate::__private::Vec)
}

/// A path as written, without spaces, for docs and messages.
pub(crate) fn path_text(path: &Path) -> String {
    let mut text = String::new();
    if path.leading_colon.is_some() {
        text.push_str("::");
    }
    for (i, segment) in path.segments.iter().enumerate() {
        if i > 0 {
            text.push_str("::");
        }
        text.push_str(&segment.ident.to_string());
    }
    text
}
