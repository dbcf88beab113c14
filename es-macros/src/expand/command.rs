//! `derive(Command)`: the `Command` impl that reads the target aggregate id and runs the
//! command's validation rules.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{DeriveInput, Member};

use crate::expand::describe::{self, path_of};
use crate::expand::{dummy_const, fq};
use crate::valid;

pub(crate) fn expand(input: &valid::Command<'_>, original: &DeriveInput) -> TokenStream {
    let valid::Command {
        ident,
        id_member,
        id_ty,
        krate,
        ..
    } = input;
    let name = ident.to_string();
    let validate = validate(input);
    let path = path_of(original);
    let doc = describe::doc(&original.attrs);
    let fields = describe::fields(krate, original);
    let id_field = match id_member {
        Member::Named(ident) => {
            let ident = ident.to_string();
            ident.strip_prefix("r#").unwrap_or(&ident).to_owned()
        }
        Member::Unnamed(index) => index.index.to_string(),
    };
    let id_type = describe::type_text(id_ty);
    dummy_const(&quote! {
        #[automatically_derived]
        impl #krate::Command for #ident {
            const NAME: &'static str = #name;
            type Id = #id_ty;
            const INFO: #krate::catalog::CommandInfo = #krate::catalog::CommandInfo {
                rust_type: #name,
                path: #path,
                doc: #doc,
                id_field: #id_field,
                id_type: #id_type,
                fields: #fields,
            };
            #[inline]
            fn aggregate_id(&self) -> &Self::Id {
                &self.#id_member
            }
            #validate
        }
    })
}

/// `Command::validate` running garde's rules, then the `validate` function, collecting the
/// errors of both; nothing (the trait's accept-all default) without either key.
fn validate(input: &valid::Command<'_>) -> TokenStream {
    let krate = &input.krate;
    let result = fq::result();
    let errors = quote!(#krate::ValidationErrors);
    // Each check is spanned at its key, where rustc reports a missing garde impl or a
    // function of the wrong signature.
    let garde = input
        .garde
        .map(|key| quote_spanned!(key.span()=> #krate::__private::validate_garde(self)));
    let function = input.validate.map(|path| {
        quote_spanned!(path.span()=> {
            let __check: fn(&Self) -> #result<(), #errors> = #path;
            __check(self)
        })
    });
    let checks: Vec<TokenStream> = garde.into_iter().chain(function).collect();
    if checks.is_empty() {
        return TokenStream::new();
    }
    quote! {
        fn validate(&self) -> #result<(), #errors> {
            let mut __errors = #errors::new();
            #(
                if let #result::Err(__found) = #checks {
                    __errors.merge(__found);
                }
            )*
            __errors.into_result()
        }
    }
}
