//! `derive(Event)`: the `Event` impl carrying the wire name and schema version.

use proc_macro2::TokenStream;
use quote::quote;

use crate::expand::dummy_const;
use crate::valid;

pub(crate) fn expand(input: &valid::Event<'_>) -> TokenStream {
    let valid::Event {
        ident,
        name,
        version,
        krate,
    } = input;
    let doc = format!("Stored under the wire name `\"{name}\"`, schema version {version}.");
    dummy_const(&quote! {
        #[doc = #doc]
        #[automatically_derived]
        impl #krate::Event for #ident {
            const NAME: &'static str = #name;
            const VERSION: u32 = #version;
        }
    })
}
