//! The wake-ups behind `wait_for_events`: one LISTEN connection per store, shared by every
//! waiter through a watch channel; and the notifications that cause them, sent by one task
//! per store after its appends ([`Notifier`]).
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

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

/// The first wait before reconnecting the `LISTEN` connection after it was lost or an
/// attempt failed.
pub(crate) const RECONNECT_MIN: Duration = Duration::from_millis(50);
/// The longest wait between two attempts to reconnect the `LISTEN` connection.
pub(crate) const RECONNECT_MAX: Duration = Duration::from_secs(5);
/// The shortest time between the starts of two notifications of a store: the appends that
/// end within it share one. At most 500 notifications a second, each at most this late.
pub(crate) const NOTIFY_SPACING: Duration = Duration::from_millis(2);

/// The listening task of a store, started by the first `wait_for_events`.
#[derive(Debug, Default)]
pub(crate) struct Wakeups {
    running: Mutex<Option<Running>>,
}

#[derive(Debug)]
struct Running {
    count: watch::Sender<u64>,
    task: Task,
}

/// A spawned task, aborted when this is dropped (with the store that started it).
#[derive(Debug)]
struct Task(JoinHandle<()>);

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
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
        let mut running = lock(&self.running);
        if let Some(running) = running.as_ref()
            && !running.task.0.is_finished()
        {
            return Some(running.count.subscribe());
        }
        let (count, receiver) = watch::channel(0);
        let task = Task(runtime.spawn(listen(options.clone(), channel.to_owned(), count.clone())));
        *running = Some(Running { count, task });
        Some(receiver)
    }
}

/// A task's slot, even if a panic poisoned its lock: each use leaves it whole.
fn lock<T>(slot: &Mutex<T>) -> MutexGuard<'_, T> {
    slot.lock().unwrap_or_else(PoisonError::into_inner)
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

/// The notifications after a store's appends: one task per store sends `NOTIFY` on the
/// store's channel, outside the appends' transactions, coalescing the requests that arrive
/// while it is sending into one more notification.
///
/// Why not `pg_notify` inside the append: PostgreSQL serializes notifying transactions (a
/// cluster-wide lock taken just before commit and held until the commit is flushed), so
/// appends that notify commit one at a time and lose group commit. Here the appends commit
/// in parallel, and the task's own transaction is tiny and commits with
/// `synchronous_commit = off` (a notification needs no durability), so it holds that lock
/// only briefly and never waits for a flush.
///
/// Every request is followed by a notification sent after it: a request that arrives while
/// one is being sent, or within [`NOTIFY_SPACING`] of the start of the last one, leaves a
/// permit (`Notify::notify_one`), and the task sends once more when the spacing has passed.
/// A failed send is retried after [`RECONNECT_MIN`], doubling, while the wait stays under
/// [`RECONNECT_MAX`]; then it is given up: subscribers poll (and the `LISTEN` side wakes its
/// waiters when it reconnects).
#[derive(Debug, Default)]
pub(crate) struct Notifier {
    running: Mutex<Option<Sending>>,
}

#[derive(Debug)]
struct Sending {
    pending: Arc<Notify>,
    task: Task,
}

impl Notifier {
    /// Asks for a notification on `channel`, sent with `sql` (which takes the channel as its
    /// one parameter) on a connection of `pool`, starting the task if it is not running. Does
    /// nothing outside a tokio runtime (subscribers then rely on polling).
    pub(crate) fn request(&self, pool: &PgPool, sql: &str, channel: &str) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let mut running = lock(&self.running);
        if let Some(sending) = running.as_ref()
            && !sending.task.0.is_finished()
        {
            sending.pending.notify_one();
            return;
        }
        let pending = Arc::new(Notify::new());
        let (pool, sql, channel) = (
            pool.clone(),
            Arc::<str>::from(sql),
            Arc::<str>::from(channel),
        );
        let send = move || {
            let (pool, sql, channel) = (pool.clone(), Arc::clone(&sql), Arc::clone(&channel));
            async move {
                sqlx::query(&sql).bind(&*channel).execute(&pool).await?;
                Ok::<_, sqlx::Error>(())
            }
        };
        let task = Task(runtime.spawn(send_requested(Arc::clone(&pending), send)));
        pending.notify_one();
        *running = Some(Sending { pending, task });
    }
}

/// Waits for a request, sends (retrying a failed send as [`Notifier`] says), lets
/// [`NOTIFY_SPACING`] pass since the send started, and again.
async fn send_requested<F, Fut, E>(pending: Arc<Notify>, mut send: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    loop {
        pending.notified().await;
        let started = Instant::now();
        let mut backoff = RECONNECT_MIN;
        while send().await.is_err() && backoff < RECONNECT_MAX {
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
        tokio::time::sleep(NOTIFY_SPACING.saturating_sub(started.elapsed())).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::sync::Semaphore;

    use super::*;

    /// Waits (a bounded time) until `count` reaches `n`.
    async fn reaches(count: &AtomicUsize, n: usize) {
        for _ in 0..1_000 {
            if count.load(Ordering::SeqCst) >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("{} sends, expected {n}", count.load(Ordering::SeqCst));
    }

    /// Many requests while a send is under way make one more send, not many.
    #[tokio::test]
    async fn requests_during_a_send_are_coalesced_into_one_more() {
        let pending = Arc::new(Notify::new());
        let sends = Arc::new(AtomicUsize::new(0));
        // Each send waits for a permit: the test decides when it completes.
        let gate = Arc::new(Semaphore::new(0));
        let task = tokio::spawn(send_requested(Arc::clone(&pending), {
            let (sends, gate) = (Arc::clone(&sends), Arc::clone(&gate));
            move || {
                let (sends, gate) = (Arc::clone(&sends), Arc::clone(&gate));
                async move {
                    sends.fetch_add(1, Ordering::SeqCst);
                    gate.acquire().await.map(|permit| permit.forget())
                }
            }
        }));
        pending.notify_one();
        reaches(&sends, 1).await;
        for _ in 0..100 {
            pending.notify_one();
        }
        gate.add_permits(1);
        reaches(&sends, 2).await;
        gate.add_permits(1);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(sends.load(Ordering::SeqCst), 2, "101 requests, 2 sends");

        // A request after that is sent too.
        pending.notify_one();
        reaches(&sends, 3).await;
        task.abort();
    }

    /// A failed send is retried until it succeeds.
    #[tokio::test]
    async fn a_failed_send_is_retried() {
        let pending = Arc::new(Notify::new());
        let sends = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn(send_requested(Arc::clone(&pending), {
            let sends = Arc::clone(&sends);
            move || {
                let sends = Arc::clone(&sends);
                async move {
                    let n = sends.fetch_add(1, Ordering::SeqCst);
                    if n < 2 { Err("refused") } else { Ok(()) }
                }
            }
        }));
        pending.notify_one();
        reaches(&sends, 3).await;
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(sends.load(Ordering::SeqCst), 3, "two failures, one success");
        task.abort();
    }
}
