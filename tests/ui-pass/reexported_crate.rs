//! The derives used through a re-export of es-core under another path (`crate = "..."`),
//! with no `es_core` import in scope at the derive sites (the process manager's timer enum
//! finds serde through it too).
pub mod framework {
    pub use es_core as core_reexport;
}

mod domain {
    use crate::framework::core_reexport::process::{Answer, Instance, OnTimer, Outcome};
    use crate::framework::core_reexport::process::{React, Reaction};
    use crate::framework::core_reexport::projection::EventMeta;
    use crate::framework::core_reexport::{Aggregate, Command, Event, ProcessManager};
    use crate::framework::core_reexport::{Apply, Handle};
    use serde::{Deserialize, Serialize};

    #[derive(Event, Debug, Serialize, Deserialize)]
    #[event(
        name = "counter.incremented",
        crate = "crate::framework::core_reexport"
    )]
    pub struct Incremented {
        pub by: u32,
    }

    #[derive(Command, Debug, Clone)]
    #[command(crate = "crate::framework::core_reexport")]
    pub struct Increment {
        #[id]
        pub counter: String,
        pub by: u32,
    }

    #[derive(Debug, thiserror::Error, Serialize, Deserialize)]
    #[error("increments must be positive")]
    pub struct ZeroIncrement;

    #[derive(Aggregate, Default, Debug)]
    #[aggregate(
        name = "counter",
        id = String,
        error = ZeroIncrement,
        events(Incremented),
        commands(Increment),
        crate = "crate::framework::core_reexport"
    )]
    pub struct Counter {
        pub total: u64,
    }

    impl Apply<Incremented> for Counter {
        fn apply(&mut self, event: &Incremented) {
            self.total += u64::from(event.by);
        }
    }

    impl Handle<Increment> for Counter {
        fn handle(&self, cmd: &Increment) -> Result<Vec<CounterEvent>, ZeroIncrement> {
            if cmd.by == 0 {
                return Err(ZeroIncrement);
            }
            Ok(vec![Incremented { by: cmd.by }.into()])
        }
    }

    /// Time to increment again.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct Tick;

    #[derive(ProcessManager, Default, Debug, Serialize, Deserialize)]
    #[process(
        name = "doubler",
        key = String,
        events(Incremented),
        commands(Increment),
        timers(Tick),
        crate = "crate::framework::core_reexport"
    )]
    pub struct Doubler {
        pub seen: u32,
    }

    impl React<Incremented> for Doubler {
        fn key(_: &Incremented, meta: &EventMeta) -> Instance<String> {
            Instance::start(meta.stream_id.to_string())
        }

        fn react(&mut self, event: &Incremented, _: &EventMeta, out: &mut Reaction<Self>) {
            self.seen += event.by;
            out.timer_after(std::time::Duration::from_secs(1), Tick);
        }
    }

    impl Answer<Increment> for Doubler {
        type Aggregate = Counter;

        fn answer(&mut self, _: &Increment, _: &Outcome<ZeroIncrement>, _: &mut Reaction<Self>) {}
    }

    impl OnTimer<Tick> for Doubler {
        fn on_timer(&mut self, _: &Tick, out: &mut Reaction<Self>) {
            out.send(Increment {
                counter: "c1".into(),
                by: self.seen,
            });
        }
    }
}

fn main() {
    use es_core::{Aggregate as _, Event as _};

    let mut counter = domain::Counter::default();
    let cmd = domain::Increment {
        counter: "c1".into(),
        by: 2,
    };
    for event in counter.handle_command(&cmd.into()).expect("positive") {
        counter.apply_event(&event);
    }
    assert_eq!(counter.total, 2);
    assert_eq!(domain::Incremented::NAME, "counter.incremented");

    use es_core::process::{ProcessManager, TimerSet};
    assert_eq!(domain::Doubler::NAME, "doubler");
    let timer = domain::DoublerTimer::from(domain::Tick);
    assert_eq!(timer.name(), "Tick");
    assert_eq!(serde_json::to_string(&timer).expect("serializes"), r#"{"Tick":null}"#);
}
