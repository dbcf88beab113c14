//! Generated code is warning-free under strict lints, and immune to user items that shadow
//! standard names (`Result`, `Option`, `Vec`, `core`, `std`) or our parameter names.
#![deny(warnings, missing_docs, clippy::pedantic, rust_2018_idioms)]

/// A domain module with decoys around the derives.
pub mod domain {
    #![allow(dead_code, non_camel_case_types, non_upper_case_globals)]

    use es_core::prelude::*;
    use serde::{Deserialize, Serialize};

    struct Result;
    struct Option;
    struct Vec;
    struct Box;
    struct Some;
    struct None;
    struct Ok;
    struct Err;
    struct From;
    struct ValidationErrors;
    mod core {}
    mod std {}
    const name: () = ();
    const event: () = ();
    const command: () = ();
    const value: () = ();

    /// Something was made.
    #[derive(Event, Debug, Serialize, Deserialize)]
    #[event(name = "thing.made", version = 3)]
    pub struct Made {
        /// Its size.
        pub size: u32,
    }

    /// Something was broken.
    #[derive(Event, Debug, Serialize, Deserialize)]
    #[event(name = "thing.broken")]
    pub struct Broken;

    /// Make a thing.
    #[derive(Command, Debug, Clone)]
    #[command(validate = check_make)]
    pub struct Make(#[id] pub u64, pub u32);

    fn check_make(make: &Make) -> ::core::result::Result<(), es_core::ValidationErrors> {
        let mut errors = es_core::ValidationErrors::new();
        if make.1 == 0 {
            errors.add("1", "a thing has a size");
        }
        errors.into_result()
    }

    /// Break a thing.
    pub use super::garded::Break;

    /// Why a thing refused.
    #[derive(Debug, thiserror::Error, Serialize, Deserialize)]
    #[error("refused")]
    pub struct Refused;

    /// A thing.
    #[derive(Aggregate, Default, Debug)]
    #[aggregate(
        name = "thing",
        id = u64,
        error = Refused,
        events(Made, Broken),
        commands(Make, Break),
        event_enum = ThingHappened,
        command_enum = ThingRequest,
        crate = "::es_core"
    )]
    pub struct Thing {
        size: u32,
        broken: bool,
    }

    impl Apply<Made> for Thing {
        fn apply(&mut self, made: &Made) {
            self.size = made.size;
        }
    }

    impl Apply<Broken> for Thing {
        fn apply(&mut self, _: &Broken) {
            self.broken = true;
        }
    }

    impl Handle<Make> for Thing {
        fn handle(
            &self,
            cmd: &Make,
        ) -> ::core::result::Result<::std::vec::Vec<ThingHappened>, Refused> {
            ::core::result::Result::Ok(::std::vec![Made { size: cmd.1 }.into()])
        }
    }

    /// Counts what happened to things.
    #[derive(Projection, Default, Debug)]
    #[projection(name = "thing-counts", events(Made, Broken), crate = "::es_core")]
    pub struct Counts {
        /// Sizes made.
        pub sizes: u64,
        /// Things broken.
        pub broken: u64,
    }

    impl On<Made> for Counts {
        fn on(&mut self, made: &Made, _: &EventMeta) {
            self.sizes += u64::from(made.size);
        }
    }

    impl On<Broken> for Counts {
        fn on(&mut self, _: &Broken, _: &EventMeta) {
            self.broken += 1;
        }
    }

    /// Time to look at a thing again.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct Inspect {
        /// Which thing.
        pub id: u64,
    }

    /// Keeps things: remakes a thing made too small, and breaks it when an inspection finds it
    /// still too small.
    #[derive(ProcessManager, Default, Debug, Serialize, Deserialize)]
    #[process(
        name = "thing-keeper",
        key = u64,
        events(Made, Broken),
        commands(Make, Break),
        timers(Inspect),
        event_enum = KeeperHeard,
        command_enum = KeeperOrder,
        timer_enum = KeeperAlarm,
        crate = "::es_core"
    )]
    pub struct Keeper {
        /// The size last seen.
        pub size: u32,
        /// Answers received.
        pub answers: u32,
    }

    impl React<Made> for Keeper {
        fn key(made: &Made, _: &EventMeta) -> Instance<u64> {
            Instance::start(u64::from(made.size))
        }

        fn react(&mut self, made: &Made, _: &EventMeta, out: &mut Reaction<Self>) {
            self.size = made.size;
            if made.size < 2 {
                out.send(Make(1, 2))
                    .timer_after(::core::time::Duration::from_secs(60), Inspect { id: 1 });
            }
        }
    }

    impl React<Broken> for Keeper {
        fn key(_: &Broken, _: &EventMeta) -> Instance<u64> {
            Instance::ignore()
        }

        fn react(&mut self, _: &Broken, _: &EventMeta, out: &mut Reaction<Self>) {
            out.cancel_timer::<Inspect>().finish();
        }
    }

    impl Answer<Make> for Keeper {
        type Aggregate = Thing;

        fn answer(&mut self, _: &Make, _: &Outcome<Refused>, _: &mut Reaction<Self>) {
            self.answers += 1;
        }
    }

    impl Answer<Break> for Keeper {
        type Aggregate = Thing;

        fn answer(&mut self, _: &Break, outcome: &Outcome<Refused>, out: &mut Reaction<Self>) {
            self.answers += 1;
            if outcome.is_accepted() {
                out.finish();
            }
        }
    }

    impl OnTimer<Inspect> for Keeper {
        fn on_timer(&mut self, inspect: &Inspect, out: &mut Reaction<Self>) {
            if self.size < 2 {
                out.send(Break { id: inspect.id });
            }
        }
    }

    /// Counts things made; sends nothing and sets no timers.
    #[derive(ProcessManager, Default, Debug, Serialize, Deserialize)]
    #[process(name = "thing-tally", key = u64, events(Made))]
    pub struct Tally {
        /// Things made.
        pub made: u64,
    }

    impl React<Made> for Tally {
        fn key(_: &Made, _: &EventMeta) -> Instance<u64> {
            Instance::start(0)
        }

        fn react(&mut self, _: &Made, _: &EventMeta, _: &mut Reaction<Self>) {
            self.made += 1;
        }
    }

    impl Handle<Break> for Thing {
        fn handle(
            &self,
            _: &Break,
        ) -> ::core::result::Result<::std::vec::Vec<ThingHappened>, Refused> {
            if self.broken {
                return ::core::result::Result::Err(Refused);
            }
            ::core::result::Result::Ok(::std::vec![Broken.into()])
        }
    }
}

/// A command validated by garde, with the decoys garde's own derive tolerates (it does not
/// survive `Some`, `None` or `Err` decoys).
pub mod garded {
    #![allow(dead_code, non_camel_case_types, non_upper_case_globals)]

    use es_core::prelude::*;

    struct Result;
    struct Vec;
    struct ValidationErrors;
    mod core {}
    mod std {}
    const command: () = ();

    /// Break a thing.
    #[derive(Command, garde::Validate, Debug, Clone)]
    #[command(garde, validate = check_break, crate = "::es_core")]
    pub struct Break {
        /// Which thing.
        #[id]
        #[garde(range(min = 1))]
        pub id: u64,
    }

    fn check_break(cmd: &Break) -> ::core::result::Result<(), es_core::ValidationErrors> {
        let mut errors = es_core::ValidationErrors::new();
        if cmd.id == 13 {
            errors.add("id", "is unlucky");
        }
        errors.into_result()
    }
}

use es_core::prelude::*;

fn recorded(name: &str, version: u32, payload: &[u8]) -> RecordedEvent {
    RecordedEvent {
        stream_id: StreamId::new("thing-1").expect("valid stream id"),
        stream_version: Version(1),
        position: Position(1),
        event_id: es_core::EventId::new(),
        recorded_at: std::time::SystemTime::now(),
        name: name.into(),
        schema_version: version,
        payload: payload.to_vec().into(),
        metadata: es_core::Metadata::default(),
    }
}

#[test]
fn decoys_do_not_capture_generated_code() {
    use domain::{Break, Make, Thing, ThingHappened, ThingRequest};

    let mut thing = Thing::default();
    let made = thing
        .handle_command(&ThingRequest::from(Make(1, 9)))
        .unwrap();
    assert!(matches!(
        made[..],
        [ThingHappened::Made(domain::Made { size: 9 })]
    ));
    thing.apply_event(&made[0]);
    let broken = thing
        .handle_command(&ThingRequest::from(Break { id: 1 }))
        .unwrap();
    thing.apply_event(&broken[0]);
    assert!(
        thing
            .handle_command(&ThingRequest::from(Break { id: 1 }))
            .is_err()
    );
    assert_eq!(made[0].version(), 3);
    assert_eq!(broken[0].name(), "thing.broken");

    let invalid = ThingRequest::from(Make(1, 0)).validate().unwrap_err();
    assert_eq!(invalid.fields().collect::<Vec<_>>(), ["1"]);
    let invalid = ThingRequest::from(Break { id: 0 }).validate().unwrap_err();
    assert_eq!(invalid.fields().collect::<Vec<_>>(), ["id"]);
    let invalid = ThingRequest::from(Break { id: 13 }).validate().unwrap_err();
    assert_eq!(invalid.to_string(), "id: is unlucky");
}

#[test]
fn decoys_do_not_capture_generated_projection_code() {
    use es_core::codec::JsonCodec;

    let mut counts = domain::Counts::default();
    let made = recorded("thing.made", 3, br#"{"size":4}"#);
    assert!(counts.project(&JsonCodec, &made).expect("decodes"));
    let other = recorded("thing.sold", 1, b"garbage");
    assert!(
        !counts
            .project(&JsonCodec, &other)
            .expect("skipped undecoded")
    );
    assert_eq!((counts.sizes, counts.broken), (4, 0));
    let names: Vec<_> = domain::Counts::EVENTS.iter().map(|e| e.name).collect();
    assert_eq!(names, ["thing.made", "thing.broken"]);
}

#[tokio::test]
async fn decoys_do_not_capture_generated_process_code() {
    use domain::{Inspect, Keeper, KeeperAlarm, KeeperHeard, KeeperOrder, Make, Tally, Thing};
    use es_core::codec::JsonCodec;
    use es_core::process::{Router, TimerSet};

    let made = recorded("thing.made", 3, br#"{"size":1}"#);
    let (instance, heard) = Keeper::route(&JsonCodec, &made)
        .expect("decodes")
        .expect("listed");
    assert_eq!(instance, Instance::Start(1));
    assert!(matches!(heard, KeeperHeard::Made(_)));
    assert!(
        Keeper::route(&JsonCodec, &recorded("thing.sold", 1, b"garbage"))
            .expect("skipped undecoded")
            .is_none()
    );

    let mut keeper = Keeper::default();
    let mut out = Reaction::new(made.recorded_at);
    keeper.react_event(&heard, &made, &mut out);
    assert!(matches!(out.commands(), [KeeperOrder::Make(Make(1, 2))]));
    assert_eq!(out.timers()[0].name(), "Inspect");

    let store = es_memstore::MemStore::new();
    let router = Router::new().with(Repository::<Thing, _>::new(store));
    let order = out.commands()[0].clone();
    keeper
        .send_command(&order, &router, CommandMeta::new(), &mut out)
        .await
        .expect("an outcome");
    assert_eq!(keeper.answers, 1);

    let mut out = Reaction::new(made.recorded_at);
    let alarm = KeeperAlarm::from(Inspect { id: 1 });
    assert_eq!(alarm.name(), "Inspect");
    keeper.fire_timer(&alarm, &mut out);
    assert!(matches!(out.commands(), [KeeperOrder::Break(_)]));

    let (_, heard) = Tally::route(&JsonCodec, &made)
        .expect("decodes")
        .expect("listed");
    let mut tally = Tally::default();
    ProcessManager::react_event(
        &mut tally,
        &heard,
        &made,
        &mut Reaction::new(made.recorded_at),
    );
    assert_eq!(tally.made, 1);
}
