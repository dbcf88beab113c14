//! Code generation from checked input. Generated code names everything by absolute path
//! (`::core::..` or the es-core path, `::es_core` unless `crate = ".."` says otherwise), so
//! user items named `Result`, `Option` or `core` cannot capture it.

pub(crate) mod aggregate;
pub(crate) mod command;
pub(crate) mod describe;
pub(crate) mod event;
pub(crate) mod process;
pub(crate) mod projection;

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, LitStr, Path};

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

/// The rules of names, each a `const fn` of es-core's `names` module.
#[derive(Clone, Copy)]
pub(crate) enum NameRule {
    Event,
    Aggregate,
    Projection,
    Process,
}

/// A constant that fails to compile, spanned at the name literal `name`, when es-core's
/// `rule` refuses the name, with the rule's message (what is wrong, what is allowed). The
/// rule is defined once, in es-core, and the stores run the same one.
pub(crate) fn name_check(krate: &Path, name: &LitStr, rule: NameRule) -> TokenStream {
    let check = Ident::new(
        match rule {
            NameRule::Event => "check_event_name",
            NameRule::Aggregate => "check_aggregate_name",
            NameRule::Projection => "check_projection_name",
            NameRule::Process => "check_process_name",
        },
        Span::call_site(),
    );
    quote_spanned! {name.span()=>
        const _: () = match #krate::__private::#check(#name) {
            ::core::result::Result::Ok(()) => {}
            ::core::result::Result::Err(__refused) => ::core::panic!("{}", __refused.message()),
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

/// `<P as es_core::Event>` for an `events(..)` entry, spanned at the entry.
///
/// Generated code names an entry's `Event` impl this way before anything else that needs it,
/// in every function body: when the entry is not an event, each body then fails with the same
/// diagnostic at the entry, which rustc shows once, and the failures of later bounds on the
/// same type at the same place (such as `Apply<E: Event>`) are not reported again.
pub(crate) fn as_event(krate: &Path, path: &Path) -> TokenStream {
    quote_spanned!(path.span()=> <#path as #krate::Event>)
}

/// `<P as es_core::Command>` for a `commands(..)` entry, spanned at the entry; see
/// [`as_event`].
pub(crate) fn as_command(krate: &Path, path: &Path) -> TokenStream {
    quote_spanned!(path.span()=> <#path as #krate::Command>)
}

/// A constant that fails to compile when two of `events` share a wire name: one check for
/// the whole list, by es-core's `duplicate_wire_name`, so its cost grows with the list and not
/// with its pairs. The error names both events, `owner` (the aggregate, projection or process
/// manager listing them) and the wire name, and is spanned at the later entry of the pair.
pub(crate) fn unique_wire_names(owner: &str, events: &[&Path], krate: &Path) -> TokenStream {
    let Some((last, rest)) = events.split_last() else {
        return TokenStream::new();
    };
    if rest.is_empty() {
        return TokenStream::new();
    }
    let entries = events.iter().map(|path| {
        let (text, event) = (path_text(path), as_event(krate, path));
        quote!((#text, #event::NAME))
    });
    // One arm per possible later entry (all but the first), so the error points at it.
    let fail_at = |path: &Path| {
        quote_spanned! {path.span()=>
            ::core::panic!("{}", __duplicate.message())
        }
    };
    let arms = rest.iter().enumerate().skip(1).map(|(i, path)| {
        let fail = fail_at(path);
        quote!(#i => #fail,)
    });
    let fail_last = fail_at(last);
    quote! {
        const _: () = match #krate::__private::duplicate_wire_name(#owner, &[#(#entries),*]) {
            ::core::option::Option::None => {}
            ::core::option::Option::Some(__duplicate) => match __duplicate.later() {
                #(#arms)*
                _ => #fail_last,
            },
        };
    }
}
