//! `catalog`: the bank's inspector renders the catalog it was given, in each format.

use es_examples::bank::catalog::catalog;
use serde_json::Value;

use crate::fill::fresh_file;
use crate::run::bank_inspect;
use crate::tests::block_on;

pub(crate) fn catalog_is_the_domains_in_each_format() {
    // The bank's inspector opens its store before anything: an empty one serves.
    let path = fresh_file("catalog.db");
    block_on(async {
        let store = es_sqlite::SqliteStore::open(&path)
            .await
            .expect("a store file");
        store.close().await;
    });
    let expected = catalog();
    let mermaid = bank_inspect(&path, &["catalog"]);
    assert_eq!(mermaid.code, 0, "{}", mermaid.stderr);
    assert_eq!(mermaid.stdout.trim_end(), expected.to_mermaid().trim_end());
    let dot = bank_inspect(&path, &["catalog", "--format", "dot"]);
    assert_eq!(dot.stdout.trim_end(), expected.to_dot().trim_end());
    for args in [&["catalog", "--format", "json"][..], &["catalog", "--json"]] {
        let json = bank_inspect(&path, args);
        assert_eq!(json.code, 0, "{}", json.stderr);
        let parsed: Value = serde_json::from_str(&json.stdout).expect("the catalog as JSON");
        assert_eq!(parsed, expected.to_json(), "{args:?}");
    }
    let html = bank_inspect(&path, &["catalog", "--format", "html"]);
    assert_eq!(html.stdout.trim_end(), expected.to_html().trim_end());
    let unknown = bank_inspect(&path, &["catalog", "--format", "svg"]);
    assert_eq!(unknown.code, 2);
    assert!(unknown.stderr.contains("svg"), "{}", unknown.stderr);
}
