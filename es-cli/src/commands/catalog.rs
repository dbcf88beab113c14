//! `catalog --format ...`: the domain's catalog, rendered by the function the application
//! registered.

use crate::output::Out;
use crate::{CatalogFormat, CliError, Inspector};

/// The arguments of `catalog`.
#[derive(Debug, Clone, clap::Args)]
#[non_exhaustive]
pub struct CatalogArgs {
    /// The rendering; `--json` is the same as `--format json`.
    #[arg(long, value_enum, default_value_t = CatalogFormat::Mermaid)]
    pub format: CatalogFormat,
}

pub(crate) fn run<S>(
    inspector: &Inspector<S>,
    args: &CatalogArgs,
    out: &mut Out,
) -> Result<(), CliError> {
    let Some(render) = &inspector.catalog else {
        return Err(CliError::Usage(
            "no catalog: it needs the domain's types, registered with \
             es_cli::Inspector::catalog in the application's binary"
                .to_owned(),
        ));
    };
    let format = if out.json {
        CatalogFormat::Json
    } else {
        args.format
    };
    let text = render(format);
    Ok(out.line(text.trim_end_matches('\n'))?)
}
