//! Behaviour of the book-loan domain on the in-memory store, observed only through the public
//! API described in the README: `Repository::execute`, `Repository::load` and the store's
//! global log (`read_all`).

use es_core::prelude::*;
use es_from_docs::{
    AddBook, Book, BookAdded, BookEvent, LendBook, LoanError, RetireBook, ReturnBook,
};
use es_memstore::MemStore;

/// One stored event as the tests compare it: stream, stream version, wire name, JSON payload.
type Logged = (String, Version, String, String);

/// The whole global log of `store`, in position order.
async fn log(store: &MemStore) -> Vec<Logged> {
    store
        .read_all(Position::START, 1_000)
        .await
        .expect("the in-memory store reads its log")
        .into_iter()
        .map(|e| {
            (
                e.stream_id.to_string(),
                e.stream_version,
                e.name.to_string(),
                String::from_utf8(e.payload.to_vec()).expect("JSON payloads are UTF-8"),
            )
        })
        .collect()
}

fn logged(stream: &str, version: u64, name: &str, payload: &str) -> Logged {
    (
        stream.to_owned(),
        Version(version),
        name.to_owned(),
        payload.to_owned(),
    )
}

/// A fresh store and a repository of books on it.
fn setup() -> (MemStore, Repository<Book, MemStore>) {
    let store = MemStore::new();
    let books = Repository::<Book, _>::new(store.clone());
    (store, books)
}

/// Unwraps the domain error of a refused command, failing on success or any other error.
macro_rules! refused {
    ($result:expr) => {
        match $result {
            Err(ExecuteError::Domain(e)) => e,
            other => panic!("expected a domain refusal, got {other:?}"),
        }
    };
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

// ---------------------------------------------------------------------------------------
// Accepted commands
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn adding_a_book_appends_book_added_at_version_1() {
    let (store, books) = setup();

    let done = books.execute(add(7, "Dune")).await.unwrap();

    // The outcome names the stream, its new version and the events decided.
    assert_eq!(done.stream_id.to_string(), "book-7");
    assert_eq!(done.stream_version, Version(1));
    assert_eq!(done.attempts, 1);
    assert!(
        matches!(&done.events[..], [BookEvent::BookAdded(e)] if *e == BookAdded {
            title: "Dune".into(),
            author: "Frank Herbert".into(),
        }),
        "{:?}",
        done.events
    );

    // The global log holds exactly that event, under its wire name and schema version 1.
    assert_eq!(
        log(&store).await,
        vec![logged(
            "book-7",
            1,
            "library.book_added",
            r#"{"title":"Dune","author":"Frank Herbert"}"#,
        )]
    );
    let recorded = store.read_all(Position::START, 10).await.unwrap();
    assert_eq!(recorded[0].schema_version, 1);
    assert_eq!(done.last_position, Some(recorded[0].position));
    assert_eq!(books.load(&7).await.unwrap().version, Version(1));
}

#[tokio::test]
async fn a_full_loan_cycle_appends_one_event_per_command_with_contiguous_versions() {
    let (store, books) = setup();

    let versions = vec![
        books.execute(add(7, "Dune")).await.unwrap().stream_version,
        books.execute(lend(7, "ada")).await.unwrap().stream_version,
        books.execute(give_back(7)).await.unwrap().stream_version,
        books
            .execute(lend(7, "grace"))
            .await
            .unwrap()
            .stream_version,
        books.execute(give_back(7)).await.unwrap().stream_version,
        books
            .execute(retire(7, "worn out"))
            .await
            .unwrap()
            .stream_version,
    ];
    assert_eq!(versions, (1..=6).map(Version).collect::<Vec<_>>());

    assert_eq!(
        log(&store).await,
        vec![
            logged(
                "book-7",
                1,
                "library.book_added",
                r#"{"title":"Dune","author":"Frank Herbert"}"#,
            ),
            logged("book-7", 2, "library.book_lent", r#"{"borrower":"ada"}"#),
            logged(
                "book-7",
                3,
                "library.book_returned",
                r#"{"borrower":"ada"}"#
            ),
            logged("book-7", 4, "library.book_lent", r#"{"borrower":"grace"}"#),
            logged(
                "book-7",
                5,
                "library.book_returned",
                r#"{"borrower":"grace"}"#
            ),
            logged(
                "book-7",
                6,
                "library.book_retired",
                r#"{"reason":"worn out"}"#
            ),
        ]
    );
    assert_eq!(books.load(&7).await.unwrap().version, Version(6));
}

#[tokio::test]
async fn books_live_in_separate_streams_interleaved_in_the_global_log() {
    let (store, books) = setup();

    books.execute(add(1, "Dune")).await.unwrap();
    books.execute(add(2, "Emma")).await.unwrap();
    books.execute(lend(1, "ada")).await.unwrap();

    let streams: Vec<(String, Version)> = log(&store)
        .await
        .into_iter()
        .map(|(stream, version, _, _)| (stream, version))
        .collect();
    assert_eq!(
        streams,
        vec![
            ("book-1".to_owned(), Version(1)),
            ("book-2".to_owned(), Version(1)),
            ("book-1".to_owned(), Version(2)),
        ]
    );
    assert_eq!(books.load(&1).await.unwrap().version, Version(2));
    assert_eq!(books.load(&2).await.unwrap().version, Version(1));
}

// ---------------------------------------------------------------------------------------
// Refused commands: typed error, nothing stored
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_blank_title_is_refused_and_stores_nothing() {
    let (store, books) = setup();

    for title in ["", "   ", "\t\n"] {
        let err = refused!(books.execute(add(7, title)).await);
        assert_eq!(err, LoanError::BlankTitle);
    }

    assert!(log(&store).await.is_empty());
    assert_eq!(books.load(&7).await.unwrap().version, Version(0));
}

#[tokio::test]
async fn adding_a_book_twice_is_refused_and_stores_nothing() {
    let (store, books) = setup();
    books.execute(add(7, "Dune")).await.unwrap();
    let before = log(&store).await;

    let err = refused!(books.execute(add(7, "Dune Messiah")).await);

    assert_eq!(err, LoanError::AlreadyAdded);
    assert_eq!(log(&store).await, before);
    assert_eq!(books.load(&7).await.unwrap().state.title(), "Dune");
}

#[tokio::test]
async fn lending_a_lent_book_is_refused_and_stores_nothing() {
    let (store, books) = setup();
    books.execute(add(7, "Dune")).await.unwrap();
    books.execute(lend(7, "ada")).await.unwrap();
    let before = log(&store).await;
    assert_eq!(before.len(), 2);

    let err = refused!(books.execute(lend(7, "grace")).await);

    assert_eq!(
        err,
        LoanError::AlreadyLent {
            borrower: "ada".into()
        }
    );
    assert_eq!(log(&store).await, before);
    let book = books.load(&7).await.unwrap();
    assert_eq!(book.version, Version(2));
    assert_eq!(book.state.borrower(), Some("ada"));
}

#[tokio::test]
async fn lending_a_retired_book_is_refused_and_stores_nothing() {
    let (store, books) = setup();
    books.execute(add(7, "Dune")).await.unwrap();
    books.execute(retire(7, "lost")).await.unwrap();
    let before = log(&store).await;
    assert_eq!(before.len(), 2);

    let err = refused!(books.execute(lend(7, "ada")).await);

    assert_eq!(err, LoanError::Retired);
    assert_eq!(log(&store).await, before);
}

#[tokio::test]
async fn returning_a_book_that_is_not_lent_is_refused_and_stores_nothing() {
    let (store, books) = setup();
    books.execute(add(7, "Dune")).await.unwrap();
    let before = log(&store).await;

    let err = refused!(books.execute(give_back(7)).await);
    assert_eq!(err, LoanError::NotLent);
    assert_eq!(log(&store).await, before);

    // Also after a completed loan: returning twice is refused.
    books.execute(lend(7, "ada")).await.unwrap();
    books.execute(give_back(7)).await.unwrap();
    let before = log(&store).await;
    assert_eq!(before.len(), 3);

    let err = refused!(books.execute(give_back(7)).await);
    assert_eq!(err, LoanError::NotLent);
    assert_eq!(log(&store).await, before);
}

#[tokio::test]
async fn retiring_a_lent_or_retired_book_is_refused_and_stores_nothing() {
    let (store, books) = setup();
    books.execute(add(7, "Dune")).await.unwrap();
    books.execute(lend(7, "ada")).await.unwrap();
    let before = log(&store).await;

    let err = refused!(books.execute(retire(7, "old")).await);
    assert_eq!(
        err,
        LoanError::AlreadyLent {
            borrower: "ada".into()
        }
    );
    assert_eq!(log(&store).await, before);

    books.execute(give_back(7)).await.unwrap();
    books.execute(retire(7, "old")).await.unwrap();
    let before = log(&store).await;
    assert_eq!(before.len(), 4);

    let err = refused!(books.execute(retire(7, "older")).await);
    assert_eq!(err, LoanError::Retired);
    let err = refused!(books.execute(give_back(7)).await);
    assert_eq!(err, LoanError::Retired);
    assert_eq!(log(&store).await, before);
}

#[tokio::test]
async fn acting_on_a_missing_book_is_refused_and_stores_nothing() {
    let (store, books) = setup();
    // Another book exists, so the log is not trivially empty.
    books.execute(add(1, "Emma")).await.unwrap();
    let before = log(&store).await;

    assert_eq!(
        refused!(books.execute(lend(99, "ada")).await),
        LoanError::NotFound
    );
    assert_eq!(
        refused!(books.execute(give_back(99)).await),
        LoanError::NotFound
    );
    assert_eq!(
        refused!(books.execute(retire(99, "never existed")).await),
        LoanError::NotFound
    );

    assert_eq!(log(&store).await, before);
    assert_eq!(books.load(&99).await.unwrap().version, Version(0));
}

// ---------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn loading_replays_the_stream_to_the_expected_state() {
    let (store, books) = setup();
    books.execute(add(7, "Dune")).await.unwrap();
    books.execute(lend(7, "ada")).await.unwrap();
    books.execute(give_back(7)).await.unwrap();
    books.execute(lend(7, "grace")).await.unwrap();

    // A second repository on the same store sees the same state: it comes from the events.
    let fresh = Repository::<Book, _>::new(store.clone());
    for repo in [&books, &fresh] {
        let book = repo.load(&7).await.unwrap();
        assert_eq!(book.version, Version(4));
        assert!(book.state.exists());
        assert_eq!(book.state.title(), "Dune");
        assert_eq!(book.state.author(), "Frank Herbert");
        assert_eq!(book.state.borrower(), Some("grace"));
        assert_eq!(book.state.loans(), 2);
        assert!(!book.state.is_retired());
    }

    fresh.execute(give_back(7)).await.unwrap();
    fresh.execute(retire(7, "worn out")).await.unwrap();
    let book = books.load(&7).await.unwrap();
    assert_eq!(book.version, Version(6));
    assert_eq!(book.state.borrower(), None);
    assert!(book.state.is_retired());
}

#[tokio::test]
async fn a_missing_book_loads_as_the_default_state_at_version_0() {
    let (store, books) = setup();

    let book = books.load(&42).await.unwrap();

    assert_eq!(book.version, Version(0));
    assert_eq!(book.version, Version::EMPTY);
    assert!(!book.exists());
    assert!(!book.state.exists());
    assert_eq!(book.state.title(), "");
    assert_eq!(book.state.borrower(), None);
    assert_eq!(book.state.loans(), 0);
    assert!(!book.state.is_retired());
    // Loading writes nothing.
    assert!(log(&store).await.is_empty());
}
