//! The wake-ups behind `wait_for_events`: one LISTEN connection per store, shared by every
//! waiter through a watch channel.
//!
//! The task counts what it hears (a notification, a reconnection) into a `watch` channel;
//! a waiter subscribes, checks the log, and waits for the count to change or for the poll
//! interval, whichever comes first. A notification lost while the connection is down costs
//! at most one poll interval, never an event: the log itself is the truth, the wake-up only
//! says "read again".
//!
//! A lost connection is re-established after a short backoff, from [`RECONNECT_MIN`]
//! doubling to [`RECONNECT_MAX`] while the server stays unreachable. The backoff is
//! not the poll interval: a store with a long poll interval (one that relies on `NOTIFY`)
//! would otherwise deliver nothing live for that long after a server restart. sqlx's
//! listener reconnects by itself only for some kinds of connection loss; a server that
//! shuts down often resets the socket (`ECONNRESET`), which sqlx reports as an error and
//! this task handles by reconnecting.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The first wait before reconnecting the `LISTEN` connection after it was lost or an
/// attempt failed.
pub(crate) const RECONNECT_MIN: Duration = Duration::from_millis(50);
/// The longest wait between two attempts to reconnect the `LISTEN` connection.
pub(crate) const RECONNECT_MAX: Duration = Duration::from_secs(5);

/// The listening task of a store, started by the first `wait_for_events`.
#[derive(Debug, Default)]
pub(crate) struct Wakeups {
    running: Mutex<Option<Running>>,
}

#[derive(Debug)]
struct Running {
    count: watch::Sender<u64>,
    task: JoinHandle<()>,
}

impl Wakeups {
    /// A receiver that changes whenever the store's channel is notified, starting the
    /// listening task if it is not running. `None` outside a tokio runtime: the waiter then
    /// polls.
    pub(crate) fn subscribe(
        &self,
        options: &PgConnectOptions,
        channel: &str,
    ) -> Option<watch::Receiver<u64>> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let mut running = self
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(running) = running.as_ref()
            && !running.task.is_finished()
        {
            return Some(running.count.subscribe());
        }
        let (count, receiver) = watch::channel(0);
        let task = runtime.spawn(listen(options.clone(), channel.to_owned(), count.clone()));
        *running = Some(Running { count, task });
        Some(receiver)
    }
}

impl Drop for Wakeups {
    fn drop(&mut self) {
        let running = self
            .running
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(running) = running.take() {
            running.task.abort();
        }
    }
}

/// Listens on `channel` until aborted, counting every notification and every (re)connection
/// into `count`. After a lost connection or a failed attempt it waits a backoff before
/// connecting again: [`RECONNECT_MIN`], doubling up to [`RECONNECT_MAX`] while attempts fail
/// or connections are lost again quickly (so a server that accepts and drops connections is
/// not hammered), back to the minimum once a connection has lasted `RECONNECT_MAX`.
async fn listen(options: PgConnectOptions, channel: String, count: watch::Sender<u64>) {
    let bump = || count.send_modify(|n| *n = n.wrapping_add(1));
    let mut backoff = RECONNECT_MIN;
    loop {
        if let Ok(mut listener) = connect(&options, &channel).await {
            let connected = Instant::now();
            // Listening from here on: whatever a waiter checked before may be stale.
            bump();
            // `Ok(None)`: the connection was lost and re-established (notifications sent in
            // between are lost, so waiters read again).
            while let Ok(_notification_or_reconnect) = listener.try_recv().await {
                bump();
            }
            // Lost (such as reset by a restarting server): waiters read again.
            bump();
            if connected.elapsed() >= RECONNECT_MAX {
                backoff = RECONNECT_MIN;
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(RECONNECT_MAX);
    }
}

async fn connect(options: &PgConnectOptions, channel: &str) -> Result<PgListener, sqlx::Error> {
    // A pool of one of its own, so the listener never takes a connection from the store's
    // pool and reconnects by itself.
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_lazy_with(options.clone());
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.ignore_pool_close_event(true);
    listener.listen(channel).await?;
    Ok(listener)
}
