//! `derive(Projection)`: the `Projection` impl that decodes only the listed events and hands
//! each to the user's `On` impl, plus the check that their wire names are distinct.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::DeriveInput;
use syn::spanned::Spanned;

use crate::expand::describe::{self, path_of};
use crate::expand::{NameRule, as_event, dummy_const, fq, name_check, unique_wire_names};
use crate::valid;

pub(crate) fn expand(input: &valid::Projection<'_>, original: &DeriveInput) -> TokenStream {
    let valid::Projection {
        ident,
        name,
        events,
        krate,
    } = input;
    let result = fq::result();
    let as_events: Vec<_> = events.iter().map(|path| as_event(krate, path)).collect();
    let descriptors = events
        .iter()
        .map(|path| quote_spanned!(path.span()=> #krate::EventDescriptor::of::<#path>()));
    let arms = events.iter().zip(&as_events).map(|(path, as_event)| {
        let decode = quote_spanned!(path.span()=> #krate::__private::decode_as::<#path, __Codec>);
        let on = quote_spanned!(path.span()=> <Self as #krate::On<#path>>::on);
        quote! {
            if __name == #as_event::NAME {
                let __decoded = #decode(__codec, __event)?;
                #on(self, &__decoded, __event);
                return #result::Ok(true);
            }
        }
    });
    let owner = format!("projection `{ident}`");
    let entries: Vec<&syn::Path> = events.iter().collect();
    let checks = unique_wire_names(&owner, &entries, krate);
    let doc = format!(
        "Checkpointed as `\"{}\"`; reads only the events listed in its `events(..)`, each \
         through its `On` impl.",
        name.value()
    );
    let name_check = name_check(krate, name, NameRule::Projection);
    let rust_type = ident.to_string();
    let path = path_of(original);
    let doc_text = describe::doc(&original.attrs);
    let event_infos = describe::event_infos(krate, &entries);
    dummy_const(&quote! {
        #[doc = #doc]
        #[automatically_derived]
        impl #krate::Projection for #ident {
            const NAME: &'static str = #name;
            const EVENTS: &'static [#krate::EventDescriptor] = &[
                #(
                    {
                        let _ = #as_events::NAME;
                        #descriptors
                    },
                )*
            ];
            const INFO: #krate::catalog::ProjectionInfo = #krate::catalog::ProjectionInfo {
                name: #name,
                rust_type: #rust_type,
                path: #path,
                doc: #doc_text,
                events: #event_infos,
            };

            fn project<__Codec: #krate::Codec>(
                &mut self,
                __codec: &__Codec,
                __event: &#krate::RecordedEvent,
            ) -> #result<bool, #krate::DecodeError> {
                let __name: &str = &__event.name;
                #(#arms)*
                #result::Ok(false)
            }
        }

        #name_check
        #checks
    })
}
