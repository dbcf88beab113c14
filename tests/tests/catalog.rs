//! The domain catalog of the example domains, in every rendering: the JSON parsed back, the
//! Mermaid and DOT graphs' edges, DOT laid out by Graphviz, and the HTML page opened in a
//! headless Chromium. The README's diagram must be the bank catalog's.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use es_core::catalog::{Catalog, Format};
use es_core::prelude::*;
use es_core::{EventDescriptor, EventSet};
use es_examples::bank::process::TransferProcess;
use es_examples::bank::transfer::{
    CancelTransfer, CompleteTransfer, RequestTransfer, TransferEvent,
};
use es_examples::bank::views::{Accounts, Balances, Transfers};
use es_examples::bank::{
    AccountEvent, CloseAccount, Deposit, FreezeAccount, OpenAccount, UnfreezeAccount, Withdraw,
};
use es_examples::user::table::DirectoryChanges;
use es_examples::user::views::{UserDirectory, UserStats};
use es_examples::user::{ChangeEmail, DeleteUser, RegisterUser, RenameUser, UserEvent};
use es_examples::{bank, user};
use serde_json::Value;

fn label(event: &EventDescriptor) -> String {
    format!("{} v{}", event.name, event.version)
}

/// The edges the bank catalog must draw, by node label, from the types themselves.
fn bank_edges() -> BTreeSet<(String, String)> {
    let mut edges = BTreeSet::new();
    let account_commands = [
        OpenAccount::NAME,
        Deposit::NAME,
        Withdraw::NAME,
        FreezeAccount::NAME,
        UnfreezeAccount::NAME,
        CloseAccount::NAME,
    ];
    let transfer_commands = [
        RequestTransfer::NAME,
        CompleteTransfer::NAME,
        CancelTransfer::NAME,
    ];
    for command in account_commands {
        edges.insert((command.to_owned(), "Account".to_owned()));
    }
    for command in transfer_commands {
        edges.insert((command.to_owned(), "Transfer".to_owned()));
    }
    for event in AccountEvent::EVENTS {
        edges.insert(("Account".to_owned(), label(event)));
    }
    for event in TransferEvent::EVENTS {
        edges.insert(("Transfer".to_owned(), label(event)));
    }
    let readers: [(&str, &[EventDescriptor]); 4] = [
        ("Balances", Balances::EVENTS),
        ("Accounts", Accounts::EVENTS),
        ("Transfers", Transfers::EVENTS),
        ("TransferProcess", TransferProcess::EVENTS),
    ];
    for (reader, events) in readers {
        for event in events {
            edges.insert((label(event), reader.to_owned()));
        }
    }
    for command in [
        Withdraw::NAME,
        Deposit::NAME,
        CompleteTransfer::NAME,
        CancelTransfer::NAME,
    ] {
        edges.insert(("TransferProcess".to_owned(), command.to_owned()));
    }
    edges
}

/// The edges the user catalog must draw.
fn user_edges() -> BTreeSet<(String, String)> {
    let mut edges = BTreeSet::new();
    for command in [
        RegisterUser::NAME,
        ChangeEmail::NAME,
        RenameUser::NAME,
        DeleteUser::NAME,
    ] {
        edges.insert((command.to_owned(), "User".to_owned()));
    }
    for event in UserEvent::EVENTS {
        edges.insert(("User".to_owned(), label(event)));
    }
    let readers: [(&str, &[EventDescriptor]); 3] = [
        ("UserDirectory", UserDirectory::EVENTS),
        ("DirectoryChanges", DirectoryChanges::EVENTS),
        ("UserStats", UserStats::EVENTS),
    ];
    for (reader, events) in readers {
        for event in events {
            edges.insert((label(event), reader.to_owned()));
        }
    }
    edges
}

/// A graph read back from text: node labels by id, and edges by label.
struct Graph {
    labels: BTreeMap<String, String>,
    edges: BTreeSet<(String, String)>,
}

/// Reads `id<open>"label"<close>:::class` nodes and `a --> b` edges.
fn parse_mermaid(text: &str) -> Graph {
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("flowchart LR"));
    let mut labels = BTreeMap::new();
    let mut raw_edges = Vec::new();
    for line in lines.map(str::trim) {
        if let Some((from, to)) = line.split_once(" --> ") {
            raw_edges.push((from.to_owned(), to.to_owned()));
        } else if let Some((id, rest)) = line.split_once('"') {
            let id: String = id
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let label = rest.split('"').next().expect("a closing quote");
            assert!(
                labels.insert(id, label.to_owned()).is_none(),
                "node declared twice: {line}"
            );
        } else {
            assert!(line.starts_with("classDef "), "unexpected line {line:?}");
        }
    }
    resolve(labels, raw_edges)
}

/// Reads `id [label="..", ..];` nodes and `a -> b;` edges.
fn parse_dot(text: &str) -> Graph {
    let mut labels = BTreeMap::new();
    let mut raw_edges = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some((from, to)) = line.trim_end_matches(';').split_once(" -> ") {
            raw_edges.push((from.to_owned(), to.to_owned()));
        } else if let Some((id, rest)) = line.split_once(" [label=\"") {
            let label = rest.split('"').next().expect("a closing quote");
            labels.insert(id.to_owned(), label.to_owned());
        }
    }
    resolve(labels, raw_edges)
}

fn resolve(labels: BTreeMap<String, String>, raw_edges: Vec<(String, String)>) -> Graph {
    for id in labels.keys() {
        assert!(
            id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "node id {id:?} is not sanitised"
        );
    }
    let edges = raw_edges
        .into_iter()
        .map(|(from, to)| {
            let name = |id: &str| {
                labels
                    .get(id)
                    .unwrap_or_else(|| panic!("edge to undeclared {id}"))
                    .clone()
            };
            (name(&from), name(&to))
        })
        .collect();
    Graph { labels, edges }
}

#[test]
fn mermaid_and_dot_draw_every_edge_once() {
    for (catalog, expected) in [
        (bank::catalog::catalog(), bank_edges()),
        (user::catalog::catalog(), user_edges()),
    ] {
        let mermaid = parse_mermaid(&catalog.to_mermaid());
        let dot = parse_dot(&catalog.to_dot());
        assert_eq!(mermaid.edges, expected, "{}: Mermaid", catalog.name());
        assert_eq!(dot.edges, expected, "{}: DOT", catalog.name());
        // The same ids in both; each label once (events shared by several owners included).
        assert_eq!(mermaid.labels, dot.labels);
        let distinct: BTreeSet<&String> = mermaid.labels.values().collect();
        assert_eq!(distinct.len(), mermaid.labels.len());
    }
}

#[test]
fn json_lists_every_event_consumer_and_command() {
    let json = bank::catalog::catalog().to_json();
    assert_eq!(json["name"], "Bank");
    let events: BTreeSet<(String, u64)> = json["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["name"].as_str().expect("name").to_owned(),
                e["version"].as_u64().expect("version"),
            )
        })
        .collect();
    let expected: BTreeSet<(String, u64)> = AccountEvent::EVENTS
        .iter()
        .chain(TransferEvent::EVENTS)
        .map(|e| (e.name.to_owned(), u64::from(e.version)))
        .collect();
    assert_eq!(events, expected);

    let projections = json["projections"].as_array().expect("projections");
    for (name, descriptors) in [
        (Balances::NAME, Balances::EVENTS),
        (Accounts::NAME, Accounts::EVENTS),
        (Transfers::NAME, Transfers::EVENTS),
    ] {
        let projection = projections.iter().find(|p| p["name"] == name).expect(name);
        let read: Vec<(&str, u64)> = projection["events"]
            .as_array()
            .expect("events")
            .iter()
            .map(|e| {
                (
                    e["name"].as_str().expect("name"),
                    e["version"].as_u64().expect("version"),
                )
            })
            .collect();
        let expected: Vec<(&str, u64)> = descriptors
            .iter()
            .map(|d| (d.name, u64::from(d.version)))
            .collect();
        assert_eq!(read, expected, "{name}");
    }

    let process = &json["processes"][0];
    assert_eq!(process["name"], TransferProcess::NAME);
    assert_eq!(process["key_type"], "TransferId");
    let sent: Vec<(&str, &str)> = process["commands"]
        .as_array()
        .expect("commands")
        .iter()
        .map(|c| {
            (
                c["type"].as_str().expect("type"),
                c["aggregate"].as_str().expect("aggregate"),
            )
        })
        .collect();
    assert_eq!(
        sent,
        [
            (Withdraw::NAME, "account"),
            (Deposit::NAME, "account"),
            (CompleteTransfer::NAME, "transfer"),
            (CancelTransfer::NAME, "transfer"),
        ]
    );
    let timers: Vec<&str> = process["timers"]
        .as_array()
        .expect("timers")
        .iter()
        .map(|t| t["name"].as_str().expect("name"))
        .collect();
    assert_eq!(timers, ["Deadline", "RetryCredit"]);

    // Who handles and who sends each command is worked out when the catalog is built.
    let deposit = json["commands"]
        .as_array()
        .expect("commands")
        .iter()
        .find(|c| c["type"] == "Deposit")
        .expect("Deposit");
    assert_eq!(deposit["aggregate"], "account");
    assert_eq!(
        deposit["sent_by"],
        serde_json::json!([TransferProcess::NAME])
    );
    assert_eq!(deposit["id_field"], "account");
    // And which consumers read each event.
    let requested = json["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["name"] == "transfer.requested")
        .expect("requested");
    assert_eq!(requested["emitted_by"], serde_json::json!(["transfer"]));
    assert_eq!(requested["read_by"], serde_json::json!(["transfers"]));
    assert_eq!(
        requested["reacted_by"],
        serde_json::json!([TransferProcess::NAME])
    );
}

#[test]
fn json_walks_the_upcast_chains_of_the_user_domain() {
    let json = user::catalog::catalog().to_json();
    let events = json["events"].as_array().expect("events");
    for event in UserEvent::EVENTS {
        let found = events
            .iter()
            .find(|e| e["name"] == event.name)
            .expect(event.name);
        assert_eq!(found["version"], event.version);
        // Each older version is one lower, down to 1.
        let mut version = event.version;
        let mut older = &found["upcast_from"];
        while !older.is_null() {
            version -= 1;
            assert_eq!(older["version"], version, "{}", event.name);
            assert!(!older["fields"].as_array().expect("fields").is_empty());
            older = &older["upcast_from"];
        }
        assert_eq!(version, 1, "{}: the chain reaches version 1", event.name);
    }
    let created = events
        .iter()
        .find(|e| e["name"] == "user.created")
        .expect("created");
    assert_eq!(created["upcast_from"]["type"], "UserCreatedV1");
    let names: Vec<&str> = created["upcast_from"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["name", "email"]);
}

/// The path of an external tool, or `None` (after a note) when it is missing outside CI.
///
/// # Panics
/// When it is missing and `CI` is set: CI must run these checks.
fn tool(path: &str) -> Option<PathBuf> {
    let found = if path.contains('/') {
        Some(PathBuf::from(path)).filter(|p| p.exists())
    } else {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(path))
                .find(|p| p.exists())
        })
    };
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{path} is needed in CI (apt-get install graphviz chromium)"
        );
        println!("note: {path} is not installed; skipping this check");
    }
    found
}

/// A fresh directory under the system's temporary directory.
fn scratch(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("es-catalog-{what}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

#[test]
fn graphviz_lays_out_the_dot_graphs() {
    let Some(dot) = tool("dot") else { return };
    let dir = scratch("dot");
    for catalog in [bank::catalog::catalog(), user::catalog::catalog()] {
        let input = dir.join(format!("{}.dot", catalog.name()));
        std::fs::write(&input, catalog.to_dot()).expect("the DOT file");
        let run = Process::new(&dot)
            .arg("-Tsvg")
            .arg(&input)
            .output()
            .expect("dot runs");
        assert!(
            run.status.success(),
            "dot failed: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        let svg = String::from_utf8(run.stdout).expect("UTF-8");
        assert!(svg.contains("<svg"), "no SVG from dot");
        // Every node made it into the drawing.
        for label in parse_dot(&catalog.to_dot()).labels.values() {
            assert!(
                svg.contains(&format!(">{label}</text>")),
                "{label} is not drawn"
            );
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Chromium with the flags a closed network and a container need.
fn chromium(chrome: &Path, profile: &Path) -> Process {
    let mut command = Process::new(chrome);
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]);
    command.arg(format!("--user-data-dir={}", profile.display()));
    command
}

/// The attributes of the `<body>` of a dumped DOM.
fn body_attributes(dom: &str) -> BTreeMap<String, String> {
    let start = dom.find("<body").expect("a body");
    let tag = &dom[start + 5..start + dom[start..].find('>').expect("the body tag's end")];
    tag.split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches('"').to_owned()))
        .collect()
}

#[test]
fn the_html_page_renders_its_diagram_in_a_browser_without_errors() {
    let Some(chrome) = tool("/usr/bin/chromium") else {
        return;
    };
    let dir = scratch("html");
    for catalog in [bank::catalog::catalog(), user::catalog::catalog()] {
        let page = dir.join(format!("{}.html", catalog.name()));
        std::fs::write(&page, catalog.to_html()).expect("the page");
        let url = format!("file://{}", page.display());
        let run = chromium(&chrome, &dir.join("profile-dom"))
            .arg("--dump-dom")
            .arg(&url)
            .output()
            .expect("chromium runs");
        assert!(
            run.status.success(),
            "chromium failed: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        let dom = String::from_utf8(run.stdout).expect("UTF-8");
        let body = body_attributes(&dom);
        let nodes = parse_mermaid(&catalog.to_mermaid()).labels.len();
        let sent = catalog
            .processes()
            .iter()
            .map(|p| p.commands.len())
            .sum::<usize>();
        assert_eq!(
            body.get("data-diagram").map(String::as_str),
            Some("ok"),
            "{}",
            catalog.name()
        );
        assert_eq!(
            body.get("data-errors").map(String::as_str),
            Some("0"),
            "{}",
            catalog.name()
        );
        // Every node of the graph has its box, and each command a workflow sends one more.
        assert_eq!(
            body.get("data-nodes"),
            Some(&(nodes + sent).to_string()),
            "{}",
            catalog.name()
        );

        let shot = dir.join(format!("{}.png", catalog.name()));
        let run = chromium(&chrome, &dir.join("profile-shot"))
            .arg("--window-size=1400,1000")
            .arg(format!("--screenshot={}", shot.display()))
            .arg(&url)
            .output()
            .expect("chromium runs");
        assert!(
            run.status.success(),
            "screenshot failed: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        let png = std::fs::read(&shot).expect("the screenshot");
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 10_000,
            "not a picture"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_readme_shows_the_bank_catalog() {
    let readme = include_str!("../../README.md");
    let start = readme
        .find("```mermaid\n")
        .expect("a mermaid block in the README")
        + "```mermaid\n".len();
    let end = start + readme[start..].find("```").expect("the block's end");
    assert_eq!(
        &readme[start..end],
        bank::catalog::catalog().to_mermaid(),
        "regenerate the README's diagram with `cargo run --example bank -- catalog`"
    );
}

#[test]
fn formats_are_named_for_the_command_line() {
    let catalog: Catalog = bank::catalog::catalog();
    for format in Format::ALL {
        let parsed: Format = format.to_string().parse().expect("a format");
        assert_eq!(parsed, format);
    }
    assert_eq!(catalog.render(Format::Mermaid), catalog.to_mermaid());
    let json: Value = serde_json::from_str(&catalog.render(Format::Json)).expect("JSON");
    assert_eq!(json, catalog.to_json());
    assert!("svg".parse::<Format>().is_err());
}

/// Mermaid's own renderer, `npx @mermaid-js/mermaid-cli` on the system Chromium, draws both
/// flowcharts. It fetches the tool from npm, so it runs only when asked:
/// `ES_MERMAID_CLI=1 cargo test -p es-tests --test catalog`.
#[test]
fn mermaid_cli_renders_the_flowcharts() {
    if std::env::var_os("ES_MERMAID_CLI").is_none() {
        println!("note: set ES_MERMAID_CLI=1 to render the flowcharts with mermaid-cli");
        return;
    }
    let dir = scratch("mermaid");
    let config = dir.join("puppeteer.json");
    let settings = r#"{"executablePath": "/usr/bin/chromium", "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]}"#;
    std::fs::write(&config, settings).expect("the puppeteer settings");
    for catalog in [bank::catalog::catalog(), user::catalog::catalog()] {
        let input = dir.join(format!("{}.mmd", catalog.name()));
        let output = dir.join(format!("{}.svg", catalog.name()));
        std::fs::write(&input, catalog.to_mermaid()).expect("the flowchart");
        let run = Process::new("npx")
            .args(["-y", "@mermaid-js/mermaid-cli", "-p"])
            .arg(&config)
            .arg("-i")
            .arg(&input)
            .arg("-o")
            .arg(&output)
            .env("PUPPETEER_SKIP_DOWNLOAD", "1")
            .output()
            .expect("npx runs");
        assert!(
            run.status.success(),
            "mermaid-cli failed: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        let svg = std::fs::read_to_string(&output).expect("the SVG");
        for label in parse_mermaid(&catalog.to_mermaid()).labels.values() {
            assert!(svg.contains(label.as_str()), "{label} is not drawn");
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}
