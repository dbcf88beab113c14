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
    #[derive(Command, Debug)]
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
    #[derive(Debug, thiserror::Error)]
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
    #[derive(Command, garde::Validate, Debug)]
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
    use es_core::{EventId, Metadata, RecordedEvent};

    let mut counts = domain::Counts::default();
    let recorded = |name: &str, version: u32, payload: &[u8]| RecordedEvent {
        stream_id: StreamId::new("thing-1").expect("valid stream id"),
        stream_version: Version(1),
        position: Position(1),
        event_id: EventId::new(),
        recorded_at: std::time::SystemTime::now(),
        name: name.into(),
        schema_version: version,
        payload: payload.to_vec().into(),
        metadata: Metadata::default(),
    };
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
