//! Waking live subscribers: at once for this store's commits, and within the poll interval
//! for other processes' commits to the same file.
//!
//! The store keeps the position of the last event it knows to be committed in a
//! `tokio::sync::watch` channel, the *head*. The writer moves it after each commit that wrote
//! events, before it answers the appenders. For appends made by other processes (or other
//! stores opened on the same file in this process), one *poller* thread per store looks at
//! the file every poll interval, while at least one subscriber waits: it asks SQLite for the
//! file's `data_version`, which changes when another connection commits, and only then reads
//! the last position and moves the head.

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use es_core::Position;
use rusqlite::Connection;
use tokio::sync::{oneshot, watch};

use crate::values::last_position;

/// The poller's stop channel: a message stops it, closes its connection, then answers.
pub(crate) type Stop = mpsc::Sender<oneshot::Sender<()>>;

/// Starts the poller thread on its own read-only connection. It stops when told to, or when
/// the returned sender is dropped.
pub(crate) fn spawn_poller(
    conn: Connection,
    path: &Path,
    head: Arc<watch::Sender<Position>>,
    interval: Duration,
) -> std::io::Result<Stop> {
    let (stop, stopped) = mpsc::channel();
    let path = path.to_owned();
    thread::Builder::new()
        .name("es-sqlite-poller".to_owned())
        .spawn(move || poll_loop(conn, &path, &head, interval, &stopped))?;
    Ok(stop)
}

fn poll_loop(
    conn: Connection,
    path: &Path,
    head: &watch::Sender<Position>,
    interval: Duration,
    stopped: &mpsc::Receiver<oneshot::Sender<()>>,
) {
    let mut seen: Option<i64> = None;
    loop {
        match stopped.recv_timeout(interval) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(reply) => {
                drop(conn);
                let _ = reply.send(());
                return;
            }
            // The store is gone.
            Err(RecvTimeoutError::Disconnected) => return,
        }
        if head.receiver_count() == 0 {
            continue;
        }
        // A failed look is tried again at the next tick; waiters are woken by this store's
        // own commits meanwhile.
        let Ok(version) = conn.query_row("PRAGMA data_version", [], |row| row.get::<_, i64>(0))
        else {
            continue;
        };
        if seen == Some(version) {
            continue;
        }
        let Ok(Ok(last)) = last_position(&conn, path) else {
            continue;
        };
        seen = Some(version);
        move_head(head, Position(last));
    }
}

/// Moves `head` to `last` when it is behind, waking the subscribers waiting for it.
pub(crate) fn move_head(head: &watch::Sender<Position>, last: Position) {
    head.send_if_modified(|head| {
        let moved = *head < last;
        if moved {
            *head = last;
        }
        moved
    });
}
