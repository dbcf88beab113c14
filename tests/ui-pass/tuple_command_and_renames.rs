//! A tuple-struct command with `#[id]` on field 0, events given as module paths, renamed
//! enums with extra derives, and an explicit `crate` path.
use es_core::prelude::*;

mod events {
    use serde::{Deserialize, Serialize};

    #[derive(es_core::Event, Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[event(name = "lamp.switched_on", crate = "::es_core")]
    pub struct SwitchedOn;

    #[derive(es_core::Event, Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[event(name = "lamp.switched_off", version = 3)]
    pub struct SwitchedOff {}
}

#[derive(Command, Debug)]
#[command(crate = "::es_core")]
pub struct SwitchOn(#[id] pub u32);

#[derive(Command, Debug)]
pub struct SwitchOff(#[id] pub u32, pub String);

#[derive(Debug, thiserror::Error)]
#[error("the lamp is already in that state")]
pub struct NoChange;

#[derive(Aggregate, Default, Debug)]
#[aggregate(
    name = "lamp",
    id = u32,
    error = NoChange,
    events(events::SwitchedOn, events::SwitchedOff),
    commands(SwitchOn, SwitchOff),
    event_enum = LampChange,
    command_enum = LampOrder,
    event_derive(Clone, PartialEq),
    crate = "::es_core",
)]
pub struct Lamp {
    on: bool,
}

impl Apply<events::SwitchedOn> for Lamp {
    fn apply(&mut self, _: &events::SwitchedOn) {
        self.on = true;
    }
}

impl Apply<events::SwitchedOff> for Lamp {
    fn apply(&mut self, _: &events::SwitchedOff) {
        self.on = false;
    }
}

impl Handle<SwitchOn> for Lamp {
    fn handle(&self, _: &SwitchOn) -> Result<Vec<LampChange>, NoChange> {
        if self.on {
            return Err(NoChange);
        }
        Ok(vec![events::SwitchedOn.into()])
    }
}

impl Handle<SwitchOff> for Lamp {
    fn handle(&self, _: &SwitchOff) -> Result<Vec<LampChange>, NoChange> {
        if !self.on {
            return Err(NoChange);
        }
        Ok(vec![events::SwitchedOff {}.into()])
    }
}

fn main() {
    assert_eq!(*SwitchOn(7).aggregate_id(), 7);
    assert_eq!(*SwitchOff(8, "night".into()).aggregate_id(), 8);
    assert_eq!(<events::SwitchedOff as Event>::VERSION, 3);

    let mut lamp = Lamp::default();
    let order: LampOrder = SwitchOn(1).into();
    assert_eq!(order.name(), "SwitchOn");
    let changes = lamp.handle_command(&order).expect("the lamp is off");
    assert_eq!(changes, [LampChange::SwitchedOn(events::SwitchedOn)]);
    assert_eq!(changes[0].name(), "lamp.switched_on");
    lamp.apply_event(&changes[0]);
    assert!(lamp.handle_command(&order).is_err());
    assert_eq!(<Lamp as Aggregate>::NAME, "lamp");
}
