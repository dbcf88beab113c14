#![deny(missing_docs)]
//! A library book-loan domain, written only from the workspace README and DESIGN.md.
//!
//! A [`Book`] is added to the catalogue ([`AddBook`]), lent to a borrower ([`LendBook`]),
//! returned ([`ReturnBook`]) and eventually retired ([`RetireBook`]). Refusals are typed
//! as [`LoanError`]. The read model [`Loans`] (module [`views`]) shows which books are lent
//! and to whom.

use es_core::prelude::*;
use serde::{Deserialize, Serialize};

pub mod views;

pub use views::{CatalogueEntry, Loans};

// ---------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------

/// A book entered the catalogue.
#[derive(Event, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[event(name = "library.book_added")]
pub struct BookAdded {
    /// The title, never blank.
    pub title: String,
    /// Who wrote it.
    pub author: String,
}

/// A book was lent to a borrower.
#[derive(Event, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[event(name = "library.book_lent")]
pub struct BookLent {
    /// Who has the book now.
    pub borrower: String,
}

/// A lent book came back.
#[derive(Event, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[event(name = "library.book_returned")]
pub struct BookReturned {
    /// Who brought it back.
    pub borrower: String,
}

/// A book left the catalogue for good.
#[derive(Event, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[event(name = "library.book_retired")]
pub struct BookRetired {
    /// Why it was retired.
    pub reason: String,
}

// ---------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------

/// Add a new book to the catalogue.
#[derive(Command, Debug)]
pub struct AddBook {
    /// The book's catalogue number.
    #[id]
    pub book_id: u64,
    /// The title; must not be blank.
    pub title: String,
    /// Who wrote it.
    pub author: String,
}

/// Lend a book that is on the shelf.
#[derive(Command, Debug)]
pub struct LendBook {
    /// The book's catalogue number.
    #[id]
    pub book_id: u64,
    /// Who borrows it.
    pub borrower: String,
}

/// Return a lent book.
#[derive(Command, Debug)]
pub struct ReturnBook {
    /// The book's catalogue number.
    #[id]
    pub book_id: u64,
}

/// Retire a book that is on the shelf.
#[derive(Command, Debug)]
pub struct RetireBook {
    /// The book's catalogue number.
    #[id]
    pub book_id: u64,
    /// Why it is retired.
    pub reason: String,
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/// Why a command on a book was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoanError {
    /// The book is already in the catalogue.
    #[error("book already added")]
    AlreadyAdded,
    /// No book with this catalogue number was ever added.
    #[error("no such book")]
    NotFound,
    /// The title was empty or only whitespace.
    #[error("the title must not be blank")]
    BlankTitle,
    /// The book is out on loan.
    #[error("book is lent to {borrower:?}")]
    AlreadyLent {
        /// Who has it.
        borrower: String,
    },
    /// The book is not out on loan, so it cannot be returned.
    #[error("book is not lent")]
    NotLent,
    /// The book was retired; nothing more can happen to it.
    #[error("book is retired")]
    Retired,
}

// ---------------------------------------------------------------------------------------
// Aggregate
// ---------------------------------------------------------------------------------------

/// One book of the library, the consistency boundary for its loans.
#[derive(Aggregate, Default, Debug)]
#[aggregate(name = "book", id = u64, error = LoanError,
            events(BookAdded, BookLent, BookReturned, BookRetired),
            commands(AddBook, LendBook, ReturnBook, RetireBook))]
pub struct Book {
    added: bool,
    title: String,
    author: String,
    borrower: Option<String>,
    retired: bool,
    loans: u32,
}

impl Book {
    /// Whether the book was ever added (a missing book loads as the default state).
    pub fn exists(&self) -> bool {
        self.added
    }

    /// The title ("" if the book does not exist).
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The author ("" if the book does not exist).
    pub fn author(&self) -> &str {
        &self.author
    }

    /// Who has the book, if it is lent.
    pub fn borrower(&self) -> Option<&str> {
        self.borrower.as_deref()
    }

    /// Whether the book was retired.
    pub fn is_retired(&self) -> bool {
        self.retired
    }

    /// How many times the book has been lent.
    pub fn loans(&self) -> u32 {
        self.loans
    }

    /// The common refusals of every command on an existing book.
    fn ensure_active(&self) -> Result<(), LoanError> {
        if !self.added {
            return Err(LoanError::NotFound);
        }
        if self.retired {
            return Err(LoanError::Retired);
        }
        Ok(())
    }
}

impl Apply<BookAdded> for Book {
    fn apply(&mut self, e: &BookAdded) {
        self.added = true;
        self.title = e.title.clone();
        self.author = e.author.clone();
    }
}

impl Apply<BookLent> for Book {
    fn apply(&mut self, e: &BookLent) {
        self.borrower = Some(e.borrower.clone());
        self.loans += 1;
    }
}

impl Apply<BookReturned> for Book {
    fn apply(&mut self, _: &BookReturned) {
        self.borrower = None;
    }
}

impl Apply<BookRetired> for Book {
    fn apply(&mut self, _: &BookRetired) {
        self.retired = true;
    }
}

impl Handle<AddBook> for Book {
    fn handle(&self, cmd: &AddBook) -> Result<Vec<BookEvent>, LoanError> {
        if self.added {
            return Err(LoanError::AlreadyAdded);
        }
        if cmd.title.trim().is_empty() {
            return Err(LoanError::BlankTitle);
        }
        Ok(vec![
            BookAdded {
                title: cmd.title.clone(),
                author: cmd.author.clone(),
            }
            .into(),
        ])
    }
}

impl Handle<LendBook> for Book {
    fn handle(&self, cmd: &LendBook) -> Result<Vec<BookEvent>, LoanError> {
        self.ensure_active()?;
        if let Some(borrower) = &self.borrower {
            return Err(LoanError::AlreadyLent {
                borrower: borrower.clone(),
            });
        }
        Ok(vec![
            BookLent {
                borrower: cmd.borrower.clone(),
            }
            .into(),
        ])
    }
}

impl Handle<ReturnBook> for Book {
    fn handle(&self, _: &ReturnBook) -> Result<Vec<BookEvent>, LoanError> {
        self.ensure_active()?;
        match &self.borrower {
            Some(borrower) => Ok(vec![
                BookReturned {
                    borrower: borrower.clone(),
                }
                .into(),
            ]),
            None => Err(LoanError::NotLent),
        }
    }
}

impl Handle<RetireBook> for Book {
    fn handle(&self, cmd: &RetireBook) -> Result<Vec<BookEvent>, LoanError> {
        self.ensure_active()?;
        if let Some(borrower) = &self.borrower {
            return Err(LoanError::AlreadyLent {
                borrower: borrower.clone(),
            });
        }
        Ok(vec![
            BookRetired {
                reason: cmd.reason.clone(),
            }
            .into(),
        ])
    }
}
