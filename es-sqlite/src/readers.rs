//! The reader threads: reads run on them, each thread with a read-only connection of its own,
//! so no read blocks an executor thread on disk I/O and reads run in parallel with the writer
//! (SQLite's WAL mode lets readers and one writer work at once, each reader on the snapshot
//! its statement began with).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

use es_core::StoreError;
use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::error::{ErrorKind, SqliteError};
use crate::writer::panicked;

type ReadJob = Box<dyn FnOnce(&Connection) + Send>;

enum Message {
    Job(ReadJob),
    /// Close this thread's connection and end it, then answer.
    Close(oneshot::Sender<()>),
}

/// The handle of the reader threads. Dropping every handle ends them.
#[derive(Debug)]
pub(crate) struct Readers {
    messages: mpsc::Sender<Message>,
    threads: usize,
    path: Arc<Path>,
}

impl Readers {
    /// Starts one thread per connection.
    pub(crate) fn spawn(conns: Vec<Connection>, path: &Path) -> std::io::Result<Self> {
        let (messages, inbox) = mpsc::channel::<Message>();
        let inbox = Arc::new(Mutex::new(inbox));
        let threads = conns.len();
        for conn in conns {
            let inbox = Arc::clone(&inbox);
            thread::Builder::new()
                .name("es-sqlite-reader".to_owned())
                .spawn(move || read_loop(conn, &inbox))?;
        }
        Ok(Self {
            messages,
            threads,
            path: Arc::from(path),
        })
    }

    /// Runs `read` on a reader thread and returns its result. A panic in `read` is an
    /// [`ErrorKind::Panicked`] error; the thread goes on.
    ///
    /// # Errors
    /// `read`'s error, or [`ErrorKind::Stopped`] once the store is closed.
    pub(crate) async fn run<R, F>(&self, operation: &'static str, read: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let path = Arc::clone(&self.path);
        let job: ReadJob = Box::new(move |conn| {
            let result = catch_unwind(AssertUnwindSafe(|| read(conn)))
                .unwrap_or_else(|panic| Err(panicked(&path, operation, &*panic)));
            let _ = reply.send(result);
        });
        if self.messages.send(Message::Job(job)).is_err() {
            return Err(self.stopped(operation));
        }
        answer
            .await
            .unwrap_or_else(|_| Err(self.stopped(operation)))
    }

    /// Waits for the reads sent before, then closes every reader's connection.
    pub(crate) async fn close(&self) {
        let mut closed = Vec::new();
        for _ in 0..self.threads {
            let (reply, done) = oneshot::channel();
            if self.messages.send(Message::Close(reply)).is_ok() {
                closed.push(done);
            }
        }
        for done in closed {
            let _ = done.await;
        }
    }

    fn stopped(&self, operation: &'static str) -> StoreError {
        StoreError::Backend(Box::new(SqliteError::new(
            ErrorKind::Stopped,
            &self.path,
            operation,
            "the store's readers have stopped (the store was closed)",
        )))
    }
}

fn read_loop(conn: Connection, inbox: &Mutex<mpsc::Receiver<Message>>) {
    loop {
        // Only the waiting for a message holds the lock; the read itself does not.
        let message = inbox.lock().unwrap_or_else(PoisonError::into_inner).recv();
        match message {
            Ok(Message::Job(job)) => job(&conn),
            Ok(Message::Close(reply)) => {
                drop(conn);
                let _ = reply.send(());
                return;
            }
            Err(_) => return,
        }
    }
}
