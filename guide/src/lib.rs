#![doc = include_str!("index.md")]
#![deny(missing_docs)]

#[doc = include_str!("getting_started.md")]
pub mod getting_started {}

#[doc = include_str!("modelling.md")]
pub mod modelling {}

#[doc = include_str!("validation.md")]
pub mod validation {}

#[doc = include_str!("evolving_events.md")]
pub mod evolving_events {}

#[doc = include_str!("read_models.md")]
pub mod read_models {}

#[doc = include_str!("workflows.md")]
pub mod workflows {}

#[doc = include_str!("stores.md")]
pub mod stores {}

#[doc = include_str!("testing.md")]
pub mod testing {}

#[doc = include_str!("operating.md")]
pub mod operating {}

#[doc = include_str!("performance.md")]
pub mod performance {}

#[doc = include_str!("migrating_from_cqrs_es.md")]
pub mod migrating_from_cqrs_es {}
