//! The `Loans` read model fed by a `ProjectionRunner`, observed only through the API described
//! in the README: `catch_up`, `read`, `rebuild`, `run` with a shutdown future and `wait_for`.

use std::collections::BTreeMap;
use std::time::Duration;

use es_core::prelude::*;
use es_core::projection::ProjectionError;
use es_from_docs::{AddBook, Book, CatalogueEntry, LendBook, Loans, RetireBook, ReturnBook};
use es_memstore::MemStore;

/// A fresh store and a repository of books on it.
fn setup() -> (MemStore, Repository<Book, MemStore>) {
    let store = MemStore::new();
    let books = Repository::<Book, _>::new(store.clone());
    (store, books)
}

fn add(book_id: u64, title: &str) -> AddBook {
    AddBook {
        book_id,
        title: title.into(),
        author: "Frank Herbert".into(),
    }
}

fn lend(book_id: u64, borrower: &str) -> LendBook {
    LendBook {
        book_id,
        borrower: borrower.into(),
    }
}

fn give_back(book_id: u64) -> ReturnBook {
    ReturnBook { book_id }
}

fn retire(book_id: u64, reason: &str) -> RetireBook {
    RetireBook {
        book_id,
        reason: reason.into(),
    }
}

/// Runs `cmd` and returns the global position of its last event.
macro_rules! run {
    ($books:expr, $cmd:expr) => {
        $books
            .execute($cmd)
            .await
            .expect("the command is accepted")
            .last_position
            .expect("an accepted command appends at least one event")
    };
}

fn shelved(title: &str) -> CatalogueEntry {
    CatalogueEntry {
        title: title.into(),
        borrower: None,
    }
}

fn lent(title: &str, borrower: &str) -> CatalogueEntry {
    CatalogueEntry {
        title: title.into(),
        borrower: Some(borrower.into()),
    }
}

fn counts<const N: usize>(pairs: [(&str, u32); N]) -> BTreeMap<String, u32> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// Asserts the whole state of `view`: its catalogue and its loan counts.
fn assert_state(view: &Loans, catalogue: &[(u64, CatalogueEntry)], loans: &BTreeMap<String, u32>) {
    let expected: BTreeMap<u64, CatalogueEntry> = catalogue.iter().cloned().collect();
    assert_eq!(view.catalogue(), &expected);
    assert_eq!(view.loan_counts(), loans);
    let on_loan: BTreeMap<u64, &str> = expected
        .iter()
        .filter_map(|(id, e)| e.borrower.as_deref().map(|b| (*id, b)))
        .collect();
    assert_eq!(view.on_loan(), on_loan);
}

/// Day one at the library: three books, some loans, one book retired, one command refused.
async fn day_one(books: &Repository<Book, MemStore>) -> Position {
    run!(books, add(1, "Dune"));
    run!(books, add(2, "Emma"));
    run!(books, add(3, "Ulysses"));
    run!(books, lend(1, "ada"));
    run!(books, lend(2, "grace"));
    run!(books, give_back(2));
    run!(books, lend(2, "ada"));
    run!(books, lend(3, "grace"));
    run!(books, give_back(3));
    // Refused (book 1 is lent): stores nothing, so the view must not change.
    assert!(books.execute(lend(1, "grace")).await.is_err());
    run!(books, retire(3, "water damage"))
}

/// The state `day_one` leads to.
fn assert_day_one(view: &Loans) {
    assert_state(
        view,
        &[(1, lent("Dune", "ada")), (2, lent("Emma", "ada"))],
        &counts([("ada", 2), ("grace", 2)]),
    );
    assert_eq!(view.borrower_of(1), Some("ada"));
    assert_eq!(view.borrower_of(3), None, "retired books are excluded");
    assert_eq!(view.loans_of("grace"), 2);
    assert_eq!(view.loans_of("nobody"), 0);
}

/// Day two: a return, a new book, more loans, another retirement.
async fn day_two(books: &Repository<Book, MemStore>) -> Position {
    run!(books, give_back(1));
    run!(books, add(4, "Middlemarch"));
    run!(books, lend(4, "grace"));
    run!(books, lend(1, "linus"));
    run!(books, give_back(2));
    run!(books, retire(2, "lost"))
}

/// The state `day_one` then `day_two` lead to.
fn assert_day_two(view: &Loans) {
    assert_state(
        view,
        &[
            (1, lent("Dune", "linus")),
            (4, lent("Middlemarch", "grace")),
        ],
        &counts([("ada", 2), ("grace", 3), ("linus", 1)]),
    );
}

#[tokio::test]
async fn catch_up_on_an_empty_store_leaves_the_view_empty() {
    let (store, _) = setup();
    let loans = ProjectionRunner::new(store.clone(), Loans::default());

    let reached = loans.catch_up().await.unwrap();

    assert_eq!(reached, Position::START);
    assert_eq!(*loans.read(), Loans::default());
}

#[tokio::test]
async fn catch_up_builds_the_view_from_the_commands_executed() {
    let (store, books) = setup();
    let last = day_one(&books).await;

    let loans = ProjectionRunner::new(store.clone(), Loans::default());
    let reached = loans.catch_up().await.unwrap();

    assert_eq!(reached, last);
    assert_day_one(&loans.read());

    // Catching up again with nothing new changes nothing.
    assert_eq!(loans.catch_up().await.unwrap(), last);
    assert_day_one(&loans.read());
}

#[tokio::test]
async fn incremental_catch_up_matches_a_fresh_runner_and_a_rebuild() {
    let (store, books) = setup();
    day_one(&books).await;
    let loans = ProjectionRunner::new(store.clone(), Loans::default());
    loans.catch_up().await.unwrap();
    assert_day_one(&loans.read());

    // More commands, then catch up from where the runner stopped.
    let last = day_two(&books).await;
    assert_eq!(loans.catch_up().await.unwrap(), last);
    assert_day_two(&loans.read());

    // A fresh runner replaying the whole log reaches the same state.
    let fresh = ProjectionRunner::new(store.clone(), Loans::default());
    assert_eq!(fresh.catch_up().await.unwrap(), last);
    assert_day_two(&fresh.read());
    let incremental = loans.read().clone();
    assert_eq!(incremental, *fresh.read());

    // And so does a rebuild of the incremental runner, from `Loans::default()`.
    loans.rebuild().await.unwrap();
    assert_eq!(*loans.read(), incremental);
    assert_day_two(&loans.read());
}

#[tokio::test]
async fn a_live_runner_serves_read_your_writes_after_wait_for() {
    let (store, books) = setup();
    // Events stored before the runner starts are delivered first.
    run!(books, add(1, "Dune"));
    run!(books, add(2, "Emma"));

    let loans = ProjectionRunner::new(store.clone(), Loans::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let live = tokio::spawn({
        // A runner is a cheap handle: the clone shares state and progress.
        let loans = loans.clone();
        async move {
            loans
                .run(async {
                    let _ = stopped.await;
                })
                .await
        }
    });
    let timeout = Duration::from_secs(5);

    let at = run!(books, lend(1, "ada"));
    loans.wait_for(at, timeout).await.unwrap();
    assert_state(
        &loans.read(),
        &[(1, lent("Dune", "ada")), (2, shelved("Emma"))],
        &counts([("ada", 1)]),
    );

    run!(books, give_back(1));
    run!(books, lend(1, "grace"));
    let at = run!(books, retire(2, "lost"));
    loans.wait_for(at, timeout).await.unwrap();
    assert_state(
        &loans.read(),
        &[(1, lent("Dune", "grace"))],
        &counts([("ada", 1), ("grace", 1)]),
    );

    // The live view equals a catch-up of the same log.
    let fresh = ProjectionRunner::new(store.clone(), Loans::default());
    assert_eq!(fresh.catch_up().await.unwrap(), at);
    assert_eq!(*fresh.read(), *loans.read());

    // Shutting down ends the live task cleanly.
    stop.send(()).unwrap();
    let outcome = tokio::time::timeout(timeout, live)
        .await
        .expect("the runner stops after shutdown")
        .expect("the runner task does not panic");
    assert!(outcome.is_ok(), "{outcome:?}");
}

#[tokio::test]
async fn wait_for_does_not_drive_a_runner_that_is_not_running() {
    let (store, books) = setup();
    let loans = ProjectionRunner::new(store.clone(), Loans::default());
    let at = run!(books, add(1, "Dune"));

    // Only `run` (or `catch_up`) moves the view: waiting alone times out, naming what it waited
    // for and what was reached.
    let waited = loans.wait_for(at, Duration::from_millis(50)).await;
    assert!(
        matches!(
            &waited,
            Err(ProjectionError::Timeout { waited_for, reached, .. })
                if *waited_for == at && *reached == Position::START
        ),
        "{waited:?}"
    );
    assert_eq!(*loans.read(), Loans::default());

    // After a catch-up the position is reached, so waiting returns at once.
    loans.catch_up().await.unwrap();
    loans.wait_for(at, Duration::from_millis(50)).await.unwrap();
    assert_state(&loans.read(), &[(1, shelved("Dune"))], &BTreeMap::new());
}

#[tokio::test]
async fn catch_up_and_rebuild_are_refused_while_the_runner_is_live() {
    let (store, books) = setup();
    let at = run!(books, add(1, "Dune"));
    let loans = ProjectionRunner::new(store.clone(), Loans::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let live = tokio::spawn({
        // A runner is a cheap handle: the clone shares state and progress.
        let loans = loans.clone();
        async move {
            loans
                .run(async {
                    let _ = stopped.await;
                })
                .await
        }
    });
    loans.wait_for(at, Duration::from_secs(5)).await.unwrap();

    let caught_up = loans.catch_up().await;
    assert!(
        matches!(caught_up, Err(ProjectionError::Running { .. })),
        "{caught_up:?}"
    );
    let rebuilt = loans.rebuild().await;
    assert!(
        matches!(rebuilt, Err(ProjectionError::Running { .. })),
        "{rebuilt:?}"
    );

    stop.send(()).unwrap();
    assert_eq!(live.await.unwrap().unwrap(), at);
    // Once stopped, the runner can catch up again.
    assert_eq!(loans.catch_up().await.unwrap(), at);
}
