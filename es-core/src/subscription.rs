//! Subscriptions: following the global log, stored events first, then live ones.
//!
//! A [`Subscription`] reads the log in batches by position, always asking for what comes
//! after the last event it delivered. When it has caught up it waits on
//! [`EventStore::wait_for_events`] and reads again. Catch-up and live delivery are the same
//! read, so there is no hand-over to get wrong: an event appended while the subscriber
//! switches from one to the other is simply the next position it reads. Memory is bounded by
//! one batch, and a slow subscriber costs writers nothing: it reads the log at its own pace.
//!
//! ```
//! use es_core::{EventStore, ExpectedVersion, NewEvent, Position, StreamId};
//! use es_core::codec::Encoded;
//! use es_memstore::MemStore;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = MemStore::new();
//! let mut subscription = store.subscribe(Position::START);
//!
//! let writer = store.clone();
//! let stream = StreamId::new("ping-1")?;
//! let event = NewEvent::new(Encoded { name: "ping", version: 1, payload: "{}".into() });
//! writer.append(&stream, ExpectedVersion::Any, vec![event]).await?;
//!
//! let first = subscription.next().await?; // waits for a live event if none is stored
//! assert_eq!((first.position, &*first.name), (Position(1), "ping"));
//! assert!(subscription.try_next().await?.is_none()); // caught up
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # As a `Stream`
//!
//! A subscription is also a [`futures_core::Stream`] of `Result<RecordedEvent, StoreError>`
//! that never ends, for `StreamExt` combinators and `while let Some(..)` loops. An error is
//! one item: the stream can be polled again and resumes after the last event it delivered.
//! (The inherent [`next`](Subscription::next) returns the event itself; `StreamExt::next`
//! wraps it in `Some`.)
//!
//! # Cancel safety
//!
//! Every async method ([`next`](Subscription::next), [`try_next`](Subscription::try_next),
//! [`try_next_batch`](Subscription::try_next_batch)) and the stream are cancel safe: the
//! read or wait in flight is kept in the subscription, not in the future the call returns,
//! and the subscription's position moves only when an event is handed out, in the same poll
//! that completes the call. Dropping such a future (the losing branch of a `select!`, a
//! `timeout` that expired) loses no event and repeats none: the next call continues the read
//! it left.

use std::collections::VecDeque;
use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_core::Stream;

use crate::envelope::{Position, RecordedEvent};
use crate::store::{BATCH_SIZE, EventStore, StoreError};

/// A boxed store call in flight, kept between polls.
type InFlight<T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send>>;

/// What the subscription is waiting for.
enum Pending {
    /// Nothing in flight.
    Idle,
    /// A read of the log after the subscription's position.
    Read(InFlight<Vec<RecordedEvent>>),
    /// A wait for appends after the subscription's position.
    Wait(InFlight<()>),
}

/// Follows a store's global log from a position; see the [module documentation](self).
pub struct Subscription<S> {
    store: S,
    position: Position,
    buffer: VecDeque<RecordedEvent>,
    batch_size: usize,
    pending: Pending,
}

impl<S: EventStore> Subscription<S> {
    /// A subscription delivering the events after `after` ([`Position::START`] for all).
    pub fn new(store: S, after: Position) -> Self {
        Self {
            store,
            position: after,
            buffer: VecDeque::new(),
            batch_size: BATCH_SIZE,
            pending: Pending::Idle,
        }
    }

    /// Reads up to `size` events per round trip (at least 1; default [`BATCH_SIZE`]).
    #[must_use]
    pub fn with_batch_size(mut self, size: usize) -> Self {
        self.batch_size = size.max(1);
        self
    }

    /// The position of the last event delivered (the starting position before the first).
    #[must_use]
    pub fn position(&self) -> Position {
        self.position
    }

    /// The next event, waiting for one to be appended if the subscriber has caught up.
    /// Cancel safe (see the [module documentation](self#cancel-safety)).
    ///
    /// # Errors
    /// The store's error; the subscription can be polled again afterwards and resumes after
    /// the last event it delivered.
    pub async fn next(&mut self) -> Result<RecordedEvent, StoreError> {
        poll_fn(|cx| self.poll_live(cx)).await
    }

    /// The next stored event, or `None` when the subscriber has caught up (without waiting).
    /// Cancel safe (see the [module documentation](self#cancel-safety)).
    ///
    /// # Errors
    /// The store's error; nothing is skipped, the next call reads again.
    pub async fn try_next(&mut self) -> Result<Option<RecordedEvent>, StoreError> {
        poll_fn(|cx| self.poll_stored(cx)).await
    }

    /// The next stored events, up to the batch size, or an empty batch when caught up.
    /// Cancel safe (see the [module documentation](self#cancel-safety)).
    ///
    /// # Errors
    /// The store's error; nothing is skipped, the next call reads again.
    pub async fn try_next_batch(&mut self) -> Result<Vec<RecordedEvent>, StoreError> {
        poll_fn(|cx| self.poll_batch(cx)).await
    }

    /// Polls for the next event, waiting for appends when caught up.
    fn poll_live(&mut self, cx: &mut Context<'_>) -> Poll<Result<RecordedEvent, StoreError>> {
        loop {
            if let Some(event) = self.take_buffered() {
                return Poll::Ready(Ok(event));
            }
            match ready!(self.poll_pending(cx)) {
                Err(error) => return Poll::Ready(Err(error)),
                Ok(Some(batch)) => self.buffer = batch.into(),
                Ok(None) => self.start_wait(),
            }
        }
    }

    /// Polls for the next stored event: `None` when caught up.
    fn poll_stored(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<RecordedEvent>, StoreError>> {
        loop {
            if let Some(event) = self.take_buffered() {
                return Poll::Ready(Ok(Some(event)));
            }
            self.drop_wait();
            match ready!(self.poll_pending(cx)) {
                Err(error) => return Poll::Ready(Err(error)),
                Ok(Some(batch)) => self.buffer = batch.into(),
                Ok(None) => return Poll::Ready(Ok(None)),
            }
        }
    }

    /// The next buffered event, handed out: the position moves past it.
    fn take_buffered(&mut self) -> Option<RecordedEvent> {
        let event = self.buffer.pop_front()?;
        self.position = event.position;
        Some(event)
    }

    /// Drops a wait for appends left by a cancelled `next`: a call that does not wait wants
    /// a read, and a wait has no effect to lose.
    fn drop_wait(&mut self) {
        if matches!(self.pending, Pending::Wait(_)) {
            self.pending = Pending::Idle;
        }
    }

    /// Polls for the next batch: the buffered events, or a read.
    fn poll_batch(&mut self, cx: &mut Context<'_>) -> Poll<Result<Vec<RecordedEvent>, StoreError>> {
        let batch: Vec<RecordedEvent> = if self.buffer.is_empty() {
            self.drop_wait();
            match ready!(self.poll_pending(cx)) {
                Err(error) => return Poll::Ready(Err(error)),
                Ok(batch) => batch.unwrap_or_default(),
            }
        } else {
            self.buffer.drain(..).collect()
        };
        if let Some(last) = batch.last() {
            self.position = last.position;
        }
        Poll::Ready(Ok(batch))
    }

    /// Drives the store call in flight (starting a read if there is none) until a read
    /// completes: `Some(batch)` with events, `None` when caught up. A completed wait starts
    /// a read. Nothing is in flight after `Ready`.
    fn poll_pending(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<Vec<RecordedEvent>>, StoreError>> {
        loop {
            match &mut self.pending {
                Pending::Idle => self.start_read(),
                Pending::Read(read) => {
                    let batch = ready!(read.as_mut().poll(cx));
                    self.pending = Pending::Idle;
                    return Poll::Ready(batch.map(|batch| (!batch.is_empty()).then_some(batch)));
                }
                Pending::Wait(wait) => {
                    let woken = ready!(wait.as_mut().poll(cx));
                    self.pending = Pending::Idle;
                    woken?;
                }
            }
        }
    }

    fn start_read(&mut self) {
        let (store, after, count) = (self.store.clone(), self.position, self.batch_size);
        self.pending = Pending::Read(Box::pin(async move { store.read_all(after, count).await }));
    }

    fn start_wait(&mut self) {
        let (store, after) = (self.store.clone(), self.position);
        self.pending = Pending::Wait(Box::pin(async move { store.wait_for_events(after).await }));
    }
}

impl<S: EventStore + Unpin> Stream for Subscription<S> {
    type Item = Result<RecordedEvent, StoreError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_live(cx).map(Some)
    }
}

impl<S: fmt::Debug> fmt::Debug for Subscription<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pending = match self.pending {
            Pending::Idle => "nothing",
            Pending::Read(_) => "a read",
            Pending::Wait(_) => "a wait for appends",
        };
        f.debug_struct("Subscription")
            .field("store", &self.store)
            .field("position", &self.position)
            .field("buffered", &self.buffer.len())
            .field("batch_size", &self.batch_size)
            .field("in_flight", &pending)
            .finish()
    }
}
