//! The command line the examples share: `catalog [--format html|mermaid|dot|json]` prints a
//! domain's catalog (Mermaid unless told otherwise) instead of running its scenario.

use es_core::catalog::{Catalog, Format, UnknownFormat};

/// The catalog of `domain` in the format `args` ask for, when they start with `catalog`;
/// `None` for any other arguments.
///
/// # Errors
/// When `--format` names no known format or has no value.
pub fn catalog(
    args: &[String],
    domain: impl FnOnce() -> Catalog,
) -> Option<Result<String, UnknownFormat>> {
    let (first, rest) = args.split_first()?;
    if first != "catalog" {
        return None;
    }
    let format = match rest {
        [] => Ok(Format::Mermaid),
        [flag, name] if flag == "--format" => name.parse(),
        other => Err(UnknownFormat(other.join(" "))),
    };
    Some(format.map(|format| domain().render(format)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|&arg| arg.to_owned()).collect()
    }

    #[test]
    fn reads_the_format_and_leaves_other_arguments_alone() {
        let domain = crate::bank::catalog::catalog;
        assert!(catalog(&args(&["--postgres"]), domain).is_none());
        assert!(catalog(&[], domain).is_none());
        let dot = catalog(&args(&["catalog", "--format", "dot"]), domain);
        assert_eq!(dot, Some(Ok(domain().to_dot())));
        let default = catalog(&args(&["catalog"]), domain);
        assert_eq!(default, Some(Ok(domain().to_mermaid())));
        let unknown = catalog(&args(&["catalog", "--format", "svg"]), domain);
        assert_eq!(unknown, Some(Err(UnknownFormat("svg".to_owned()))));
    }
}
