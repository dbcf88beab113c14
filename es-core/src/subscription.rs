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

use std::collections::VecDeque;

use crate::envelope::{Position, RecordedEvent};
use crate::store::{BATCH_SIZE, EventStore, StoreError};

/// Follows a store's global log from a position; see the [module documentation](self).
#[derive(Debug)]
pub struct Subscription<S> {
    store: S,
    position: Position,
    buffer: VecDeque<RecordedEvent>,
    batch_size: usize,
}

impl<S: EventStore> Subscription<S> {
    /// A subscription delivering the events after `after` ([`Position::START`] for all).
    pub fn new(store: S, after: Position) -> Self {
        Self {
            store,
            position: after,
            buffer: VecDeque::new(),
            batch_size: BATCH_SIZE,
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
    ///
    /// # Errors
    /// The store's error; the subscription can be polled again afterwards and resumes after
    /// the last event it delivered.
    pub async fn next(&mut self) -> Result<RecordedEvent, StoreError> {
        loop {
            if let Some(event) = self.try_next().await? {
                return Ok(event);
            }
            self.store.wait_for_events(self.position).await?;
        }
    }

    /// The next stored event, or `None` when the subscriber has caught up (without waiting).
    ///
    /// # Errors
    /// The store's error; nothing is skipped, the next call reads again.
    pub async fn try_next(&mut self) -> Result<Option<RecordedEvent>, StoreError> {
        if self.buffer.is_empty() {
            self.buffer = self
                .store
                .read_all(self.position, self.batch_size)
                .await?
                .into();
        }
        let Some(event) = self.buffer.pop_front() else {
            return Ok(None);
        };
        self.position = event.position;
        Ok(Some(event))
    }

    /// The next stored events, up to the batch size, or an empty batch when caught up.
    ///
    /// # Errors
    /// The store's error.
    pub async fn try_next_batch(&mut self) -> Result<Vec<RecordedEvent>, StoreError> {
        let batch: Vec<RecordedEvent> = if self.buffer.is_empty() {
            self.store.read_all(self.position, self.batch_size).await?
        } else {
            self.buffer.drain(..).collect()
        };
        if let Some(last) = batch.last() {
            self.position = last.position;
        }
        Ok(batch)
    }
}
