//! What each derive records for the catalog (`es_core::catalog`): constant data built from
//! literals (docs, field names, types as written) and the `INFO` constants of the types it
//! names.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, Data, DeriveInput, Expr, Fields, Lit, Meta, Path};

use crate::expand::{as_command, as_event};

/// The `#[doc]` lines of `attrs` joined with newlines, each without the one space `///`
/// leaves; lines given by a macro (`#[doc = include_str!(..)]`) are skipped.
pub(crate) fn doc(attrs: &[Attribute]) -> String {
    let lines: Vec<String> = attrs
        .iter()
        .filter_map(|attr| match &attr.meta {
            Meta::NameValue(nv) if nv.path.is_ident("doc") => match &nv.value {
                Expr::Lit(lit) => match &lit.lit {
                    Lit::Str(text) => Some(text.value()),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        })
        .collect();
    let lines: Vec<&str> = lines
        .iter()
        .flat_map(|line| line.split('\n'))
        .map(|line| line.strip_prefix(' ').unwrap_or(line).trim_end())
        .collect();
    lines.join("\n").trim().to_owned()
}

/// A type (or any tokens) as written, with spaces only where Rust needs them or a reader
/// expects them: `Vec<String>`, `&'static str`, `HashMap<K, V>`, `[u8; 4]`.
pub(crate) fn type_text(ty: &impl ToTokens) -> String {
    let spaced = ty.to_token_stream().to_string();
    let chars: Vec<char> = spaced.chars().collect();
    let word = |c: char| c.is_alphanumeric() || c == '_' || c == '\'';
    let mut out = String::with_capacity(spaced.len());
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' {
            let before = out.chars().last();
            let after = chars.get(i + 1).copied();
            let keep = match (before, after) {
                (Some(b), Some(a)) => (word(b) && word(a)) || b == ',' || b == ';',
                _ => false,
            };
            if keep {
                out.push(' ');
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `concat!(module_path!(), "::", "Name")`: the type's path, module included, as the
/// compiler knows it where the derive runs.
pub(crate) fn path_of(input: &DeriveInput) -> TokenStream {
    let name = input.ident.to_string();
    quote!(::core::concat!(::core::module_path!(), "::", #name))
}

/// `&[FieldInfo { .. }, ..]` for the named fields of a struct; `&[]` for others.
pub(crate) fn fields(krate: &Path, input: &DeriveInput) -> TokenStream {
    let Data::Struct(data) = &input.data else {
        return quote!(&[]);
    };
    let Fields::Named(named) = &data.fields else {
        return quote!(&[]);
    };
    let fields = named.named.iter().filter_map(|field| {
        let name = field.ident.as_ref()?.to_string();
        let name = name.strip_prefix("r#").unwrap_or(&name).to_owned();
        let ty = type_text(&field.ty);
        let doc = doc(&field.attrs);
        Some(quote! {
            #krate::catalog::FieldInfo { name: #name, ty: #ty, doc: #doc }
        })
    });
    quote!(&[#(#fields),*])
}

/// `&[&<P as Event>::INFO, ..]` for an `events(..)` list, each spanned at its entry.
pub(crate) fn event_infos(krate: &Path, events: &[&Path]) -> TokenStream {
    let infos = events.iter().map(|path| {
        let as_event = as_event(krate, path);
        quote_spanned!(path.span()=> &#as_event::INFO)
    });
    quote!(&[#(#infos),*])
}

/// `&[&<P as Command>::INFO, ..]` for a `commands(..)` list, each spanned at its entry.
pub(crate) fn command_infos(krate: &Path, commands: &[&Path]) -> TokenStream {
    let infos = commands.iter().map(|path| {
        let as_command = as_command(krate, path);
        quote_spanned!(path.span()=> &#as_command::INFO)
    });
    quote!(&[#(#infos),*])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_read_as_written() {
        let cases = [
            (quote!(Vec<String>), "Vec<String>"),
            (quote!(&'static str), "&'static str"),
            (
                quote!(HashMap<String, Vec<u8> >),
                "HashMap<String, Vec<u8>>",
            ),
            (quote!([u8; 4]), "[u8; 4]"),
            (quote!(&mut dyn Fn(u8)), "&mut dyn Fn(u8)"),
            (
                quote!(::std::option::Option<(u64, i32)>),
                "::std::option::Option<(u64, i32)>",
            ),
        ];
        for (tokens, expected) in cases {
            assert_eq!(type_text(&tokens), expected);
        }
    }

    #[test]
    fn docs_join_lines_and_drop_the_leading_space() {
        let input: DeriveInput = syn::parse_quote! {
            /// First line.
            ///   indented
            ///
            /// Second paragraph.
            #[doc = include_str!("skipped")]
            struct S;
        };
        assert_eq!(
            doc(&input.attrs),
            "First line.\n  indented\n\nSecond paragraph."
        );
    }
}
