//! A projection over the events of two different aggregates plus a free-standing event, listed
//! by module path (two of them with the same last segment, which only enum variants forbid),
//! with an explicit `crate` path; `main` runs the generated `Projection` impl on hand-built
//! envelopes.
use es_core::codec::JsonCodec;
use es_core::prelude::*;
use es_core::{EventId, Metadata, RecordedEvent};

mod user {
    use es_core::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Event, Debug, Serialize, Deserialize)]
    #[event(name = "user.registered")]
    pub struct Registered {
        pub email: String,
    }

    #[derive(Command, Debug)]
    pub struct Register {
        #[id]
        pub user: u64,
        pub email: String,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("the user is already registered")]
    pub struct AlreadyRegistered;

    #[derive(Aggregate, Default, Debug)]
    #[aggregate(
        name = "user",
        id = u64,
        error = AlreadyRegistered,
        events(Registered),
        commands(Register)
    )]
    pub struct User {
        registered: bool,
    }

    impl Apply<Registered> for User {
        fn apply(&mut self, _: &Registered) {
            self.registered = true;
        }
    }

    impl Handle<Register> for User {
        fn handle(&self, cmd: &Register) -> Result<Vec<UserEvent>, AlreadyRegistered> {
            if self.registered {
                return Err(AlreadyRegistered);
            }
            Ok(vec![
                Registered {
                    email: cmd.email.clone(),
                }
                .into(),
            ])
        }
    }
}

mod order {
    use es_core::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Event, Debug, Serialize, Deserialize)]
    #[event(name = "order.placed", version = 2)]
    pub struct Placed {
        pub total: u64,
    }

    #[derive(Command, Debug)]
    pub struct Place {
        #[id]
        pub order: u64,
        pub total: u64,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("the order is already placed")]
    pub struct AlreadyPlaced;

    #[derive(Aggregate, Default, Debug)]
    #[aggregate(
        name = "order",
        id = u64,
        error = AlreadyPlaced,
        events(Placed),
        commands(Place)
    )]
    pub struct Order {
        placed: bool,
    }

    impl Apply<Placed> for Order {
        fn apply(&mut self, _: &Placed) {
            self.placed = true;
        }
    }

    impl Handle<Place> for Order {
        fn handle(&self, cmd: &Place) -> Result<Vec<OrderEvent>, AlreadyPlaced> {
            if self.placed {
                return Err(AlreadyPlaced);
            }
            Ok(vec![Placed { total: cmd.total }.into()])
        }
    }
}

/// An event of no aggregate in this crate, named like `user::Registered`.
mod admin {
    use serde::{Deserialize, Serialize};

    #[derive(es_core::Event, Debug, Serialize, Deserialize)]
    #[event(name = "admin.registered")]
    pub struct Registered {}
}

/// Counts users and admins and sums order totals, across both aggregates.
#[derive(Projection, Default, Debug)]
#[projection(
    name = "shop-stats",
    events(user::Registered, crate::order::Placed, admin::Registered),
    crate = "::es_core"
)]
pub struct ShopStats {
    users: u64,
    admins: u64,
    revenue: u64,
    last_stream: String,
}

impl On<user::Registered> for ShopStats {
    fn on(&mut self, _: &user::Registered, meta: &EventMeta) {
        self.users += 1;
        self.last_stream = meta.stream_id.to_string();
    }
}

impl On<order::Placed> for ShopStats {
    fn on(&mut self, event: &order::Placed, meta: &EventMeta) {
        self.revenue += event.total;
        self.last_stream = meta.stream_id.to_string();
    }
}

impl On<admin::Registered> for ShopStats {
    fn on(&mut self, _: &admin::Registered, _: &EventMeta) {
        self.admins += 1;
    }
}

/// An envelope as a store would record it, with the event's wire name and schema version.
fn recorded(stream: &str, position: u64, event: (&str, u32), payload: &[u8]) -> RecordedEvent {
    let (name, schema_version) = event;
    RecordedEvent {
        stream_id: StreamId::new(stream).expect("valid stream id"),
        stream_version: Version(1),
        position: Position(position),
        event_id: EventId::new(),
        recorded_at: std::time::SystemTime::now(),
        name: name.into(),
        schema_version,
        payload: payload.to_vec().into(),
        metadata: Metadata::default(),
    }
}

fn main() {
    assert_eq!(ShopStats::NAME, "shop-stats");
    let names: Vec<_> = ShopStats::EVENTS.iter().map(|event| event.name).collect();
    assert_eq!(names, ["user.registered", "order.placed", "admin.registered"]);

    let mut stats = ShopStats::default();
    let log = [
        recorded(
            "user-1",
            1,
            ("user.registered", 1),
            br#"{"email":"a@example.com"}"#,
        ),
        recorded("order-7", 2, ("order.placed", 2), br#"{"total":30}"#),
        recorded("user-1", 3, ("user.renamed", 1), b"not even json"),
        recorded("order-8", 4, ("order.placed", 2), br#"{"total":12}"#),
        recorded("admins", 5, ("admin.registered", 1), b"{}"),
    ];
    let handled: Vec<bool> = log
        .iter()
        .map(|event| stats.project(&JsonCodec, event).expect("decodes"))
        .collect();
    assert_eq!(handled, [true, true, false, true, true]);
    assert_eq!((stats.users, stats.admins, stats.revenue), (1, 1, 42));
    assert_eq!(
        stats.last_stream, "order-8",
        "`On<admin::Registered>` ignores the stream"
    );

    let bad = recorded("order-9", 6, ("order.placed", 2), br#"{"total":"many"}"#);
    assert!(stats.project(&JsonCodec, &bad).is_err());
    assert_eq!(
        stats.revenue, 42,
        "a failed decode leaves the state unchanged"
    );
}
