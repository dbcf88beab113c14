//! `derive(Command)`: the `Command` impl that reads the target aggregate id.

use proc_macro2::TokenStream;
use quote::quote;

use crate::expand::dummy_const;
use crate::valid;

pub(crate) fn expand(input: &valid::Command<'_>) -> TokenStream {
    let valid::Command {
        ident,
        id_member,
        id_ty,
        krate,
    } = input;
    let name = ident.to_string();
    dummy_const(&quote! {
        #[automatically_derived]
        impl #krate::Command for #ident {
            const NAME: &'static str = #name;
            type Id = #id_ty;
            #[inline]
            fn aggregate_id(&self) -> &Self::Id {
                &self.#id_member
            }
        }
    })
}
