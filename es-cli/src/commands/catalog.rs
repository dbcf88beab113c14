//! `catalog --format ...`: the domain's catalog, as the application registered it.

use es_core::catalog::Format;

use crate::output::Out;
use crate::{CliError, Inspector};

/// The arguments of `catalog`.
#[derive(Debug, Clone, clap::Args)]
#[non_exhaustive]
pub struct CatalogArgs {
    /// The rendering: mermaid, dot, json or html; `--json` is the same as `--format json`.
    #[arg(long, default_value_t = Format::Mermaid, value_parser = parse_format)]
    pub format: Format,
}

/// A format by its name, with the catalog's own message for an unknown one.
fn parse_format(name: &str) -> Result<Format, String> {
    name.parse().map_err(|error| format!("{error}"))
}

pub(crate) fn run<S>(
    inspector: &Inspector<S>,
    args: &CatalogArgs,
    out: &mut Out,
) -> Result<(), CliError> {
    let Some(catalog) = &inspector.catalog else {
        return Err(CliError::Usage(
            "no catalog: it needs the domain's types, registered with \
             es_cli::Inspector::catalog in the application's binary"
                .to_owned(),
        ));
    };
    let format = if out.json { Format::Json } else { args.format };
    let text = catalog.render(format);
    Ok(out.line(text.trim_end_matches('\n'))?)
}
