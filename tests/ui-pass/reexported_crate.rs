//! The derives used through a re-export of es-core under another path (`crate = "..."`),
//! with no `es_core` import in scope at the derive sites.
pub mod framework {
    pub use es_core as core_reexport;
}

mod domain {
    use crate::framework::core_reexport::{Aggregate, Command, Event};
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

    #[derive(Command, Debug)]
    #[command(crate = "crate::framework::core_reexport")]
    pub struct Increment {
        #[id]
        pub counter: String,
        pub by: u32,
    }

    #[derive(Debug, thiserror::Error)]
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
}
