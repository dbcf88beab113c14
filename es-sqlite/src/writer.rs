//! The single writer: one thread, one connection, every write of the store, committed in
//! groups.
//!
//! Callers hand the writer a *job*, a closure that does one caller's writes, and await its
//! answer. The thread takes the first job waiting, then every other job already queued (up to
//! [`MAX_GROUP`]), and runs them all in one transaction:
//!
//! ```text
//! BEGIN IMMEDIATE
//!   SAVEPOINT job; <job 1: its checks, then its writes>; RELEASE job      -- or ROLLBACK TO
//!   SAVEPOINT job; <job 2 ...>; RELEASE job
//!   ...
//! COMMIT                                                                 -- one fsync
//! ```
//!
//! A job that fails (an append's version conflict, a disk that filled during its inserts, a
//! table projection's error or panic) is rolled back to its savepoint and answered with its
//! error; the other jobs of the group are committed. On some errors (a full disk, an I/O
//! error) SQLite rolls back the whole transaction rather than the failing statement: then the
//! jobs that had run before in it lost their writes, and they run again, in a new transaction
//! with the jobs not yet run (a job is a closure that can run again; one that cannot, a table
//! batch, answers [`ErrorKind::Aborted`] and its runner writes it again). Answers go out only after `COMMIT` has
//! returned, so a caller that hears "appended" has a durable append. If `BEGIN` or `COMMIT`
//! fails, SQLite rolls the whole transaction back and every job of the group gets the error:
//! nothing of any of them was written.
//!
//! While one group commits (its `fsync`), the next callers' jobs queue up and form the next
//! group: under load, many appends share one `fsync`, with no timer and no added latency
//! when a caller is alone.
//!
//! The writer is also what makes the global order gap-free: positions are taken inside the
//! write transaction, as one more than the largest stored (read once per transaction, under
//! SQLite's write lock, which also excludes other processes' writers), so the positions a
//! transaction commits directly follow those already committed.
//!
//! Every write of the store is a job: appends, snapshot and checkpoint saves, a table
//! projection's batch with its checkpoint move. Another kind of write (a process manager's
//! state, timers and outbox with its checkpoint, say) is one more closure, with no change
//! here.

use std::any::Any;
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;

use es_core::{Position, StoreError};
use rusqlite::Connection;
use tokio::sync::{oneshot, watch};

use crate::error::{ErrorKind, SqliteError, sqlite_error, store_error};
use crate::options::MAX_GROUP;
use crate::values::last_position;
use crate::wake::move_head;

/// The transaction a job runs in: the connection, and the positions taken so far.
pub(crate) struct Tx<'c> {
    conn: &'c Connection,
    path: &'c Path,
    /// The next free position, once read in this transaction.
    next_position: Option<u64>,
}

impl<'c> Tx<'c> {
    /// The writer's connection, inside the group's transaction and the job's savepoint. A job
    /// must not end either (`COMMIT`, `ROLLBACK`, `RELEASE`).
    pub(crate) fn conn(&self) -> &'c Connection {
        self.conn
    }

    /// The store's file, for errors.
    pub(crate) fn path(&self) -> &'c Path {
        self.path
    }

    /// Takes `count` consecutive positions and returns the first.
    pub(crate) fn take_positions(&mut self, count: u64) -> Result<u64, StoreError> {
        let next = match self.next_position {
            Some(next) => next,
            None => {
                let last = last_position(self.conn, self.path).map_err(|error| {
                    store_error(self.path, "reading the last position", &error)
                })??;
                last + 1
            }
        };
        self.next_position = Some(next + count);
        Ok(next)
    }

    /// The last position taken in this transaction, if any.
    fn last_taken(&self) -> Option<u64> {
        self.next_position.map(|next| next - 1)
    }
}

/// One caller's writes and the way to answer it.
trait Work: Send {
    /// Runs the writes in the group's transaction; whether they succeeded (else the
    /// savepoint is rolled back).
    fn run(&mut self, tx: &mut Tx<'_>) -> bool;

    /// Answers the caller with the outcome of the group's commit (and of the last run, if the
    /// job ran).
    fn answer(self: Box<Self>, committed: Result<(), SqliteError>);
}

type Job = Box<dyn Work>;

/// A job: its closure, its result once it ran, and the caller's reply channel.
struct Pending<R, F> {
    work: F,
    result: Option<Result<R, StoreError>>,
    reply: oneshot::Sender<Result<R, StoreError>>,
    path: Arc<Path>,
    operation: &'static str,
}

impl<R, F> Work for Pending<R, F>
where
    R: Send + 'static,
    F: FnMut(&mut Tx<'_>) -> Result<R, StoreError> + Send + 'static,
{
    fn run(&mut self, tx: &mut Tx<'_>) -> bool {
        let work = &mut self.work;
        let result = catch_unwind(AssertUnwindSafe(|| work(tx)))
            .unwrap_or_else(|panic| Err(panicked(&self.path, self.operation, &*panic)));
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn answer(self: Box<Self>, committed: Result<(), SqliteError>) {
        let outcome = match (committed, self.result) {
            // Its own error stands: nothing of it was written either way.
            (_, Some(Err(error))) => Err(error),
            (Ok(()), Some(Ok(value))) => Ok(value),
            (Err(error), _) => Err(StoreError::Backend(Box::new(error))),
            (Ok(()), None) => Err(StoreError::Backend(Box::new(SqliteError::new(
                ErrorKind::Other,
                &self.path,
                self.operation,
                "the write was not run",
            )))),
        };
        // The caller may have stopped waiting: nothing to do then.
        let _ = self.reply.send(outcome);
    }
}

enum Message {
    Job(Job),
    /// Finish the jobs queued before, close the connection, then answer.
    Close(oneshot::Sender<()>),
}

/// The handle of the writer thread. Dropping every handle (every clone of the store) ends
/// the thread after the jobs already sent.
#[derive(Debug)]
pub(crate) struct Writer {
    messages: mpsc::Sender<Message>,
    path: Arc<Path>,
}

impl Writer {
    /// Starts the writer thread on `conn`; `None` for a read-only store, whose writer refuses
    /// every job. Each commit that wrote events moves `head` to the last one.
    pub(crate) fn spawn(
        conn: Option<Connection>,
        path: &Path,
        head: Arc<watch::Sender<Position>>,
    ) -> std::io::Result<Self> {
        let (messages, inbox) = mpsc::channel();
        let thread_path = path.to_owned();
        thread::Builder::new()
            .name("es-sqlite-writer".to_owned())
            .spawn(move || write_loop(conn, &thread_path, &inbox, &head))?;
        Ok(Self {
            messages,
            path: Arc::from(path),
        })
    }

    /// Runs `work` in the next group's transaction, inside a savepoint of its own, and returns
    /// its result once the group has committed. An `Err` from `work` (or a panic in it) rolls
    /// its writes back; other jobs of the group are unaffected. `work` may be run again, in a
    /// new transaction, when SQLite rolled a transaction back whole on another job's failure
    /// (it does so for some errors, such as a full disk); only its last run counts.
    ///
    /// # Errors
    /// `work`'s error; [`StoreError::Backend`] when the group's transaction fails to begin or
    /// commit (nothing of it was written) or the writer has stopped.
    pub(crate) async fn run<R, F>(&self, operation: &'static str, work: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnMut(&mut Tx<'_>) -> Result<R, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(Pending {
            work,
            result: None,
            reply,
            path: Arc::clone(&self.path),
            operation,
        });
        if self.messages.send(Message::Job(job)).is_err() {
            return Err(self.stopped(operation));
        }
        answer
            .await
            .unwrap_or_else(|_| Err(self.stopped(operation)))
    }

    /// Waits for the jobs sent before, then closes the writer's connection.
    pub(crate) async fn close(&self) {
        let (reply, closed) = oneshot::channel();
        if self.messages.send(Message::Close(reply)).is_ok() {
            let _ = closed.await;
        }
    }

    fn stopped(&self, operation: &'static str) -> StoreError {
        StoreError::Backend(Box::new(SqliteError::new(
            ErrorKind::Stopped,
            &self.path,
            operation,
            "the store's writer has stopped (the store was closed)",
        )))
    }
}

/// The error of user code that panicked with `panic` while the store was doing `operation`:
/// [`ErrorKind::Panicked`], with the panic's message.
pub(crate) fn panicked(
    path: &Path,
    operation: &'static str,
    panic: &(dyn Any + Send),
) -> StoreError {
    let text = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message");
    StoreError::Backend(Box::new(SqliteError::new(
        ErrorKind::Panicked,
        path,
        operation,
        format!("panicked: {text}"),
    )))
}

fn write_loop(
    mut conn: Option<Connection>,
    path: &Path,
    inbox: &mpsc::Receiver<Message>,
    head: &watch::Sender<Position>,
) {
    let mut group: Vec<Job> = Vec::with_capacity(MAX_GROUP);
    let mut closing = None;
    while let Ok(first) = inbox.recv() {
        match first {
            Message::Job(job) => group.push(job),
            Message::Close(reply) => closing = Some(reply),
        }
        while closing.is_none() && group.len() < MAX_GROUP {
            match inbox.try_recv() {
                Ok(Message::Job(job)) => group.push(job),
                Ok(Message::Close(reply)) => closing = Some(reply),
                Err(_) => break,
            }
        }
        if !group.is_empty() {
            match &conn {
                Some(conn) => commit_group(conn, path, &mut group, head),
                None => refuse_group(path, &mut group),
            }
        }
        if let Some(reply) = closing.take() {
            // Closing the last connection checkpoints the WAL into the file. Jobs sent after
            // the close are dropped with the inbox: their callers hear that the writer stopped.
            drop(conn.take());
            let _ = reply.send(());
            return;
        }
    }
}

/// A read-only store's writer: every job is answered with a read-only error, unrun.
fn refuse_group(path: &Path, group: &mut Vec<Job>) {
    let error = SqliteError::new(
        ErrorKind::ReadOnly,
        path,
        "writing",
        "the store was opened read-only",
    );
    for job in group.drain(..) {
        job.answer(Err(error.clone()));
    }
}

fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

/// How one transaction of a group ended.
enum Ended {
    /// Committed: the jobs that ran in it are answered.
    Committed,
    /// A job failed and SQLite rolled the whole transaction back with it (it does so for
    /// some errors, such as a full disk): the other jobs that ran in it lost their writes
    /// and run again, in a new transaction.
    RolledBack,
    /// Beginning, a savepoint or committing failed: nothing of the transaction was written.
    Failed(SqliteError),
}

/// Runs `group` in as few transactions as it takes (one, unless SQLite rolls a transaction
/// back on a job's failure) and answers every job, exactly once.
fn commit_group(
    conn: &Connection,
    path: &Path,
    group: &mut Vec<Job>,
    head: &watch::Sender<Position>,
) {
    // Jobs answered with their own failure once the group is done.
    let mut failed: Vec<Job> = Vec::new();
    let mut pending: VecDeque<Job> = group.drain(..).collect();
    loop {
        let mut ran: Vec<Job> = Vec::with_capacity(pending.len());
        let mut tx = Tx {
            conn,
            path,
            next_position: None,
        };
        match run_transaction(&mut tx, &mut pending, &mut ran, &mut failed) {
            Ended::Committed => {
                if let Some(last) = tx.last_taken() {
                    move_head(head, Position(last));
                }
                for job in ran {
                    job.answer(Ok(()));
                }
                break;
            }
            Ended::RolledBack => {
                // Run again, first, in a fresh transaction.
                for job in ran.into_iter().rev() {
                    pending.push_front(job);
                }
            }
            Ended::Failed(error) => {
                if !conn.is_autocommit() {
                    // The transaction may still be open (a failed COMMIT can leave it so).
                    let _ = conn.execute_batch("ROLLBACK");
                }
                // Nothing of the transaction was written, run or not.
                for job in ran.into_iter().chain(pending.drain(..)) {
                    job.answer(Err(error.clone()));
                }
                break;
            }
        }
    }
    for job in failed {
        // Its own error stands; nothing of it was written.
        job.answer(Ok(()));
    }
}

/// One transaction: runs the `pending` jobs, each in a savepoint, moving each into `ran` (or,
/// when it failed, into `failed`) as soon as it is taken, so none is lost on an early return.
fn run_transaction(
    tx: &mut Tx<'_>,
    pending: &mut VecDeque<Job>,
    ran: &mut Vec<Job>,
    failed: &mut Vec<Job>,
) -> Ended {
    let (conn, path) = (tx.conn, tx.path);
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE") {
        return Ended::Failed(sqlite_error(path, "beginning a write", &e));
    }
    while let Some(mut job) = pending.pop_front() {
        let before = tx.next_position;
        if let Err(e) = exec(conn, "SAVEPOINT job") {
            ran.push(job);
            return Ended::Failed(sqlite_error(path, "writing", &e));
        }
        if job.run(tx) {
            ran.push(job);
        } else {
            tx.next_position = before;
            failed.push(job);
            if conn.is_autocommit() {
                return Ended::RolledBack;
            }
            if let Err(e) = exec(conn, "ROLLBACK TO job") {
                return Ended::Failed(sqlite_error(path, "writing", &e));
            }
        }
        if let Err(e) = exec(conn, "RELEASE job") {
            return Ended::Failed(sqlite_error(path, "writing", &e));
        }
    }
    match exec(conn, "COMMIT") {
        Ok(()) => Ended::Committed,
        Err(e) => Ended::Failed(sqlite_error(path, "committing", &e)),
    }
}
