//! The aggregate id back from a stream id: the inverse of [`StreamId::for_aggregate`], typed.

use std::fmt::Display;
use std::str::FromStr;

use crate::aggregate::Aggregate;
use crate::envelope::{RecordedEvent, StreamId};

impl StreamId {
    /// The id of the instance of aggregate `A` whose stream this is: the inverse of
    /// [`StreamId::for_aggregate`]. The stream must be `A`'s (its id starts with
    /// [`A::NAME`](Aggregate::NAME) and `-`); the rest is parsed with `A::Id`'s [`FromStr`],
    /// and may hold `-` itself (a UUID, `admin-1`).
    ///
    /// ```
    /// # use es_core::prelude::*;
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Debug, Serialize, Deserialize)]
    /// # #[event(name = "order.placed")]
    /// # struct Placed;
    /// # #[derive(Command, Debug)]
    /// # struct Place { #[id] id: u64 }
    /// # #[derive(Debug, thiserror::Error)]
    /// # #[error("never")]
    /// # struct Never;
    /// # #[derive(Aggregate, Default, Debug)]
    /// # #[aggregate(name = "order", id = u64, error = Never, events(Placed), commands(Place))]
    /// # struct Order;
    /// # impl Apply<Placed> for Order { fn apply(&mut self, _: &Placed) {} }
    /// # impl Handle<Place> for Order {
    /// #     fn handle(&self, _: &Place) -> Result<Vec<OrderEvent>, Never> { Ok(vec![]) }
    /// # }
    /// use es_core::envelope::AggregateIdError;
    ///
    /// // `Order` is `#[aggregate(name = "order", id = u64, ..)]`.
    /// let stream = StreamId::for_aggregate("order", &7)?;
    /// assert_eq!(stream.aggregate_id::<Order>(), Ok(7));
    ///
    /// let refused = StreamId::new("user-7")?.aggregate_id::<Order>();
    /// assert!(matches!(refused, Err(AggregateIdError::OtherAggregate { .. })));
    /// let refused = StreamId::new("order-seven")?.aggregate_id::<Order>();
    /// assert!(matches!(refused, Err(AggregateIdError::Unparsable { .. })));
    /// # Ok::<_, es_core::envelope::InvalidStreamId>(())
    /// ```
    ///
    /// # Errors
    /// [`AggregateIdError::OtherAggregate`] when the stream is not `A`'s,
    /// [`AggregateIdError::Unparsable`] when the id does not parse as `A::Id`.
    pub fn aggregate_id<A>(&self) -> Result<A::Id, AggregateIdError>
    where
        A: Aggregate,
        A::Id: FromStr<Err: Display>,
    {
        let Some(id) = self
            .as_str()
            .strip_prefix(A::NAME)
            .and_then(|rest| rest.strip_prefix('-'))
        else {
            return Err(AggregateIdError::OtherAggregate {
                stream_id: self.clone(),
                aggregate: A::NAME,
            });
        };
        id.parse().map_err(
            |err: <A::Id as FromStr>::Err| AggregateIdError::Unparsable {
                stream_id: self.clone(),
                aggregate: A::NAME,
                id: id.to_owned(),
                message: err.to_string(),
            },
        )
    }
}

impl RecordedEvent {
    /// The id of the instance of aggregate `A` that recorded this event:
    /// [`StreamId::aggregate_id`] of its [`stream_id`](Self::stream_id). What a projection
    /// calls in its `On` impls to learn which instance an event is about (see
    /// [`projection`](crate::projection)).
    ///
    /// # Errors
    /// [`AggregateIdError::OtherAggregate`] when the event is not in a stream of `A`,
    /// [`AggregateIdError::Unparsable`] when the id does not parse as `A::Id`.
    pub fn aggregate_id<A>(&self) -> Result<A::Id, AggregateIdError>
    where
        A: Aggregate,
        A::Id: FromStr<Err: Display>,
    {
        self.stream_id.aggregate_id::<A>()
    }
}

/// Why [`StreamId::aggregate_id`] found no id of the aggregate asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AggregateIdError {
    /// The stream is not one of the aggregate's: its id does not start with the aggregate's
    /// name and `-`.
    #[error(
        "stream {stream_id} is not a stream of aggregate `{aggregate}`, whose streams are named \
         `{aggregate}-{{id}}`"
    )]
    OtherAggregate {
        /// The stream.
        stream_id: StreamId,
        /// The aggregate's name ([`Aggregate::NAME`]).
        aggregate: &'static str,
    },
    /// The stream is the aggregate's, but the id in it does not parse as the aggregate's id
    /// type.
    #[error(
        "stream {stream_id} of aggregate `{aggregate}`: the id {id:?} does not parse: {message}"
    )]
    Unparsable {
        /// The stream.
        stream_id: StreamId,
        /// The aggregate's name ([`Aggregate::NAME`]).
        aggregate: &'static str,
        /// The id as it is in the stream id.
        id: String,
        /// What the id type's [`FromStr`] said.
        message: String,
    },
}
