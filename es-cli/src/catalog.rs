//! [`CatalogFormat`]: the renderings of the domain's catalog.

/// A rendering of the domain's catalog, chosen with `catalog --format`. The inspector does
/// not build the catalog: the application registers a function that renders it
/// ([`Inspector::catalog`](crate::Inspector::catalog)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
#[non_exhaustive]
pub enum CatalogFormat {
    /// A Mermaid diagram.
    Mermaid,
    /// A Graphviz DOT graph.
    Dot,
    /// One JSON document.
    Json,
    /// One self-contained HTML page.
    Html,
}
