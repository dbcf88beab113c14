//! Read models over the book-loan events.
//!
//! [`Loans`] is the loans desk: which books are in the catalogue, which of them are out on
//! loan and to whom, and how many loans each borrower has had. Feed it with a
//! `ProjectionRunner` (see the crate's `tests/views.rs`).

use std::collections::BTreeMap;

use es_core::prelude::*;

use crate::{Book, BookAdded, BookLent, BookRetired, BookReturned};

/// A book of the catalogue, as the loans desk sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueEntry {
    /// The title.
    pub title: String,
    /// Who has the book, if it is out on loan.
    pub borrower: Option<String>,
}

/// The loans desk: the catalogue (retired books excluded), the books out on loan and to
/// whom, and how many loans each borrower has had.
///
/// Books are identified by their catalogue number, the id of the [`Book`] aggregate, which
/// the events do not carry: it is read from the stream id (`"book-7"`).
#[derive(Projection, Default, Debug, Clone, PartialEq, Eq)]
#[projection(name = "loans", events(BookAdded, BookLent, BookReturned, BookRetired))]
pub struct Loans {
    /// The books in the catalogue, by catalogue number; retired books are removed.
    books: BTreeMap<u64, CatalogueEntry>,
    /// How many loans each borrower has had, including loans of books since retired.
    loans_by_borrower: BTreeMap<String, u32>,
}

impl Loans {
    /// The books in the catalogue (not retired), by catalogue number.
    pub fn catalogue(&self) -> &BTreeMap<u64, CatalogueEntry> {
        &self.books
    }

    /// The books currently out on loan: catalogue number -> borrower.
    pub fn on_loan(&self) -> BTreeMap<u64, &str> {
        self.books
            .iter()
            .filter_map(|(id, book)| book.borrower.as_deref().map(|who| (*id, who)))
            .collect()
    }

    /// Who has book `book_id`, if it is in the catalogue and lent.
    pub fn borrower_of(&self, book_id: u64) -> Option<&str> {
        self.books.get(&book_id)?.borrower.as_deref()
    }

    /// How many loans each borrower has had (borrowers with no loan are absent).
    pub fn loan_counts(&self) -> &BTreeMap<String, u32> {
        &self.loans_by_borrower
    }

    /// How many loans `borrower` has had.
    pub fn loans_of(&self, borrower: &str) -> u32 {
        self.loans_by_borrower.get(borrower).copied().unwrap_or(0)
    }

    /// The catalogue entry of the book whose stream delivered `meta`, if it is a book
    /// stream and the book is in the catalogue.
    fn entry(&mut self, meta: &EventMeta) -> Option<&mut CatalogueEntry> {
        self.books.get_mut(&book_id(meta)?)
    }
}

/// The catalogue number of the book whose stream delivered `meta` (`"book-7"` -> 7), or
/// `None` for a stream that is not a book stream (or holds no number).
fn book_id(meta: &EventMeta) -> Option<u64> {
    meta.aggregate_id::<Book>().ok()
}

impl On<BookAdded> for Loans {
    fn on(&mut self, e: &BookAdded, meta: &EventMeta) {
        if let Some(id) = book_id(meta) {
            self.books.insert(
                id,
                CatalogueEntry {
                    title: e.title.clone(),
                    borrower: None,
                },
            );
        }
    }
}

impl On<BookLent> for Loans {
    fn on(&mut self, e: &BookLent, meta: &EventMeta) {
        *self
            .loans_by_borrower
            .entry(e.borrower.clone())
            .or_default() += 1;
        if let Some(book) = self.entry(meta) {
            book.borrower = Some(e.borrower.clone());
        }
    }
}

impl On<BookReturned> for Loans {
    fn on(&mut self, _: &BookReturned, meta: &EventMeta) {
        if let Some(book) = self.entry(meta) {
            book.borrower = None;
        }
    }
}

impl On<BookRetired> for Loans {
    fn on(&mut self, _: &BookRetired, meta: &EventMeta) {
        if let Some(id) = book_id(meta) {
            self.books.remove(&id);
        }
    }
}
