//! What `derive(ProcessManager)` generates, exercised directly: the constants, enums and
//! conversions, the timers' names and serde form, `route` (decoding and keying), dispatch of
//! `react` and `on_timer`, and `send` through a `Router` over in-memory repositories, whose
//! accepted, refused and invalid outcomes reach the `Answer` impls.
#![allow(clippy::unwrap_used)]

use std::any::TypeId;
use std::time::{Duration, SystemTime};

use es_core::codec::JsonCodec;
use es_core::error::DecodeErrorKind;
use es_core::prelude::*;
use es_core::process::{NoTimers, Router, SendError, TimerChange, TimerOf, TimerSet};
use es_core::{EventDescriptor, EventId, Metadata};
use es_memstore::MemStore;
use serde::Serialize;

/// A small bank: accounts that refuse overdrafts, and commands with their own rules.
pub mod bank {
    use es_core::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Event, Debug, Serialize, Deserialize)]
    #[event(name = "pd.account.opened")]
    pub struct Opened;

    #[derive(Event, Debug, Serialize, Deserialize)]
    #[event(name = "pd.account.withdrawn")]
    pub struct Withdrawn {
        pub amount: u64,
        pub transfer: Option<u64>,
    }

    #[derive(Event, Debug, Serialize, Deserialize)]
    #[event(name = "pd.account.deposited")]
    pub struct Deposited {
        pub amount: u64,
        pub transfer: Option<u64>,
    }

    #[derive(Command, Debug, Clone, PartialEq)]
    pub struct Open {
        #[id]
        pub account: u64,
    }

    #[derive(Command, Debug, Clone, PartialEq)]
    #[command(validate = positive_withdrawal)]
    pub struct Withdraw {
        #[id]
        pub account: u64,
        pub amount: u64,
        pub transfer: u64,
    }

    #[derive(Command, Debug, Clone, PartialEq)]
    pub struct Deposit {
        #[id]
        pub account: u64,
        pub amount: u64,
        pub transfer: u64,
    }

    fn positive_withdrawal(cmd: &Withdraw) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if cmd.amount == 0 {
            errors.add("amount", "must be positive");
        }
        errors.into_result()
    }

    #[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
    pub enum AccountError {
        #[error("the account is not open")]
        NotOpen,
        #[error("the balance {balance} does not cover {amount}")]
        Overdraw { balance: u64, amount: u64 },
    }

    #[derive(Aggregate, Default, Debug)]
    #[aggregate(name = "pd_account", id = u64, error = AccountError,
                events(Opened, Withdrawn, Deposited), commands(Open, Withdraw, Deposit))]
    pub struct Account {
        open: bool,
        balance: u64,
    }

    impl Apply<Opened> for Account {
        fn apply(&mut self, _: &Opened) {
            self.open = true;
            self.balance = 100;
        }
    }

    impl Apply<Withdrawn> for Account {
        fn apply(&mut self, event: &Withdrawn) {
            self.balance -= event.amount;
        }
    }

    impl Apply<Deposited> for Account {
        fn apply(&mut self, event: &Deposited) {
            self.balance += event.amount;
        }
    }

    impl Handle<Open> for Account {
        fn handle(&self, _: &Open) -> Result<Vec<AccountEvent>, AccountError> {
            Ok(vec![Opened.into()])
        }
    }

    impl Handle<Withdraw> for Account {
        fn handle(&self, cmd: &Withdraw) -> Result<Vec<AccountEvent>, AccountError> {
            if !self.open {
                return Err(AccountError::NotOpen);
            }
            if cmd.amount > self.balance {
                return Err(AccountError::Overdraw {
                    balance: self.balance,
                    amount: cmd.amount,
                });
            }
            Ok(vec![
                Withdrawn {
                    amount: cmd.amount,
                    transfer: Some(cmd.transfer),
                }
                .into(),
            ])
        }
    }

    impl Handle<Deposit> for Account {
        fn handle(&self, cmd: &Deposit) -> Result<Vec<AccountEvent>, AccountError> {
            if !self.open {
                return Err(AccountError::NotOpen);
            }
            Ok(vec![
                Deposited {
                    amount: cmd.amount,
                    transfer: Some(cmd.transfer),
                }
                .into(),
            ])
        }
    }
}

/// A transfer between two accounts: withdraw, then deposit, or give up at a deadline.
pub mod transfers {
    use std::time::Duration;

    use es_core::prelude::*;
    use serde::{Deserialize, Serialize};

    use crate::bank::{Account, AccountError, Deposit, Deposited, Withdraw, Withdrawn};

    #[derive(Event, Debug, Serialize, Deserialize)]
    #[event(name = "pd.transfer.requested")]
    pub struct TransferRequested {
        pub id: u64,
        pub from: u64,
        pub to: u64,
        pub amount: u64,
    }

    /// The transfer took too long.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Deadline;

    /// A reminder with a payload.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Remind {
        pub times: u32,
    }

    #[derive(ProcessManager, Default, Debug, Serialize, Deserialize)]
    #[process(name = "pd-transfer", key = u64,
              events(TransferRequested, Withdrawn, Deposited),
              commands(Withdraw, Deposit),
              timers(Deadline, Remind))]
    pub struct Transfer {
        pub id: u64,
        pub from: u64,
        pub to: u64,
        pub amount: u64,
        /// What the impls saw, in order.
        pub log: Vec<String>,
    }

    impl React<TransferRequested> for Transfer {
        fn key(event: &TransferRequested, _: &EventMeta) -> Instance<u64> {
            Instance::start(event.id)
        }

        fn react(&mut self, event: &TransferRequested, _: &EventMeta, out: &mut Reaction<Self>) {
            self.id = event.id;
            self.from = event.from;
            self.to = event.to;
            self.amount = event.amount;
            self.log.push("requested".into());
            out.send(Withdraw {
                account: event.from,
                amount: event.amount,
                transfer: event.id,
            });
            out.timer_after(Duration::from_secs(900), Deadline);
        }
    }

    impl React<Withdrawn> for Transfer {
        fn key(event: &Withdrawn, _: &EventMeta) -> Instance<u64> {
            event
                .transfer
                .map_or(Instance::ignore(), Instance::existing)
        }

        fn react(&mut self, event: &Withdrawn, _: &EventMeta, _: &mut Reaction<Self>) {
            self.log.push(format!("withdrawn {}", event.amount));
        }
    }

    impl React<Deposited> for Transfer {
        fn key(event: &Deposited, _: &EventMeta) -> Instance<u64> {
            event
                .transfer
                .map_or(Instance::ignore(), Instance::existing)
        }

        fn react(&mut self, event: &Deposited, _: &EventMeta, out: &mut Reaction<Self>) {
            self.log.push(format!("deposited {}", event.amount));
            out.cancel_timer::<Deadline>().finish();
        }
    }

    impl Answer<Withdraw> for Transfer {
        type Aggregate = Account;

        fn answer(
            &mut self,
            cmd: &Withdraw,
            outcome: &Outcome<AccountError>,
            out: &mut Reaction<Self>,
        ) {
            match outcome {
                Outcome::Accepted(accepted) => {
                    self.log.push(format!(
                        "withdraw accepted at {}",
                        accepted.stream_version.0
                    ));
                    out.send(Deposit {
                        account: self.to,
                        amount: cmd.amount,
                        transfer: self.id,
                    });
                }
                Outcome::Refused(error) => {
                    self.log.push(format!("withdraw refused: {error:?}"));
                    out.finish();
                }
                Outcome::Invalid(errors) => {
                    self.log.push(format!("withdraw invalid: {errors}"));
                    out.finish();
                }
                _ => self
                    .log
                    .push("withdraw: an outcome of a newer es-core".into()),
            }
        }
    }

    impl Answer<Deposit> for Transfer {
        type Aggregate = Account;

        fn answer(&mut self, _: &Deposit, outcome: &Outcome<AccountError>, _: &mut Reaction<Self>) {
            match outcome {
                Outcome::Accepted(_) => self.log.push("deposit accepted".into()),
                Outcome::Refused(error) => self.log.push(format!("deposit refused: {error:?}")),
                _ => self.log.push("deposit: other".into()),
            }
        }
    }

    impl OnTimer<Deadline> for Transfer {
        fn on_timer(&mut self, _: &Deadline, out: &mut Reaction<Self>) {
            self.log.push("deadline".into());
            out.finish();
        }
    }

    impl OnTimer<Remind> for Transfer {
        fn on_timer(&mut self, remind: &Remind, out: &mut Reaction<Self>) {
            self.log.push(format!("remind {}", remind.times));
            out.timer_after(
                Duration::from_secs(60),
                Remind {
                    times: remind.times + 1,
                },
            );
        }
    }
}

/// A process manager that only watches: no commands, no timers, renamed event enum.
pub mod watch {
    use es_core::prelude::*;
    use serde::{Deserialize, Serialize};

    use crate::bank::Opened;

    #[derive(ProcessManager, Default, Debug, Serialize, Deserialize)]
    #[process(name = "pd-watch", key = String, events(Opened), event_enum = Watched)]
    pub struct Watch {
        pub opened: u32,
    }

    impl React<Opened> for Watch {
        fn key(_: &Opened, meta: &EventMeta) -> Instance<String> {
            Instance::start(meta.stream_id.to_string())
        }

        fn react(&mut self, _: &Opened, _: &EventMeta, _: &mut Reaction<Self>) {
            self.opened += 1;
        }
    }
}

use bank::{Account, AccountError, Deposit, Deposited, Open, Opened, Withdraw, Withdrawn};
use transfers::{
    Deadline, Remind, Transfer, TransferCommand, TransferEvent, TransferRequested, TransferTimer,
};
use watch::{Watch, Watched};

fn recorded(name: &str, payload: &[u8]) -> RecordedEvent {
    RecordedEvent {
        stream_id: StreamId::new("pd_account-1").unwrap(),
        stream_version: Version(1),
        position: Position(1),
        event_id: EventId::new(),
        recorded_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_000),
        name: name.into(),
        schema_version: 1,
        payload: payload.to_vec().into(),
        metadata: Metadata::default(),
    }
}

fn json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

fn requested() -> TransferRequested {
    TransferRequested {
        id: 9,
        from: 1,
        to: 2,
        amount: 30,
    }
}

#[test]
fn constants_and_associated_types() {
    assert_eq!(Transfer::NAME, "pd-transfer");
    assert_eq!(
        Transfer::EVENTS,
        [
            EventDescriptor::of::<TransferRequested>(),
            EventDescriptor::of::<Withdrawn>(),
            EventDescriptor::of::<Deposited>(),
        ]
    );
    let names: Vec<_> = Transfer::EVENTS.iter().map(|event| event.name).collect();
    assert_eq!(
        names,
        [
            "pd.transfer.requested",
            "pd.account.withdrawn",
            "pd.account.deposited"
        ]
    );
    let types = [
        TypeId::of::<<Transfer as ProcessManager>::Key>(),
        TypeId::of::<<Transfer as ProcessManager>::Event>(),
        TypeId::of::<<Transfer as ProcessManager>::Command>(),
        TypeId::of::<<Transfer as ProcessManager>::Timer>(),
    ];
    assert_eq!(
        types,
        [
            TypeId::of::<u64>(),
            TypeId::of::<TransferEvent>(),
            TypeId::of::<TransferCommand>(),
            TypeId::of::<TransferTimer>(),
        ]
    );

    assert_eq!(Watch::NAME, "pd-watch");
    assert_eq!(Watch::EVENTS, [EventDescriptor::of::<Opened>()]);
    assert_eq!(
        TypeId::of::<<Watch as ProcessManager>::Timer>(),
        TypeId::of::<NoTimers>()
    );
    assert_eq!(
        TypeId::of::<<Watch as ProcessManager>::Event>(),
        TypeId::of::<Watched>()
    );
    assert_eq!(
        TypeId::of::<<Watch as ProcessManager>::Key>(),
        TypeId::of::<String>()
    );
}

#[test]
fn enums_and_conversions() {
    let event = TransferEvent::from(requested());
    assert!(matches!(
        event,
        TransferEvent::TransferRequested(TransferRequested { id: 9, .. })
    ));
    assert!(format!("{event:?}").starts_with("TransferRequested(TransferRequested { id: 9"));

    let withdraw = Withdraw {
        account: 1,
        amount: 5,
        transfer: 9,
    };
    let command = TransferCommand::from(withdraw.clone());
    let copy = command.clone();
    assert!(matches!(copy, TransferCommand::Withdraw(ref w) if *w == withdraw));
    assert_eq!(
        format!("{command:?}"),
        "Withdraw(Withdraw { account: 1, amount: 5, transfer: 9 })"
    );
    let deposit = TransferCommand::from(Deposit {
        account: 2,
        amount: 5,
        transfer: 9,
    });
    assert!(matches!(deposit, TransferCommand::Deposit(_)));

    let timer = TransferTimer::from(Remind { times: 2 });
    assert!(matches!(
        timer.clone(),
        TransferTimer::Remind(Remind { times: 2 })
    ));
    assert_eq!(format!("{timer:?}"), "Remind(Remind { times: 2 })");
    let _: Watched = Watched::from(Opened);
}

#[test]
fn timers_are_named_after_their_types_and_tagged_by_name() {
    assert_eq!(TransferTimer::from(Deadline).name(), "Deadline");
    assert_eq!(TransferTimer::from(Remind { times: 1 }).name(), "Remind");
    assert_eq!(<Deadline as TimerOf<Transfer>>::NAME, "Deadline");
    assert_eq!(<Remind as TimerOf<Transfer>>::NAME, "Remind");

    // Stored as serde, externally tagged by the variant's name.
    let stored = serde_json::to_string(&TransferTimer::from(Remind { times: 3 })).unwrap();
    assert_eq!(stored, r#"{"Remind":{"times":3}}"#);
    let stored = serde_json::to_string(&TransferTimer::from(Deadline)).unwrap();
    assert_eq!(stored, r#"{"Deadline":null}"#);
    let read: TransferTimer = serde_json::from_str(r#"{"Remind":{"times":4}}"#).unwrap();
    assert!(matches!(read, TransferTimer::Remind(Remind { times: 4 })));
    assert!(serde_json::from_str::<TransferTimer>(r#"{"Snooze":null}"#).is_err());

    // A reaction names the timers it sets and cancels.
    let mut out = Reaction::<Transfer>::new(SystemTime::UNIX_EPOCH);
    out.timer_after(Duration::from_secs(5), Deadline)
        .cancel_timer::<Remind>();
    let names: Vec<_> = out.timers().iter().map(TimerChange::name).collect();
    assert_eq!(names, ["Deadline", "Remind"]);
}

#[test]
fn route_decodes_listed_events_and_keys_them() {
    let start = recorded("pd.transfer.requested", &json(&requested()));
    let (instance, event) = Transfer::route(&JsonCodec, &start).unwrap().unwrap();
    assert_eq!(instance, Instance::Start(9));
    assert!(matches!(
        event,
        TransferEvent::TransferRequested(TransferRequested { amount: 30, .. })
    ));

    let existing = recorded("pd.account.deposited", br#"{"amount":30,"transfer":9}"#);
    let (instance, event) = Transfer::route(&JsonCodec, &existing).unwrap().unwrap();
    assert_eq!(instance, Instance::Existing(9));
    assert!(matches!(
        event,
        TransferEvent::Deposited(Deposited {
            amount: 30,
            transfer: Some(9)
        })
    ));

    let ignored = recorded("pd.account.withdrawn", br#"{"amount":4,"transfer":null}"#);
    let (instance, event) = Transfer::route(&JsonCodec, &ignored).unwrap().unwrap();
    assert_eq!(instance, Instance::Ignore);
    assert!(matches!(event, TransferEvent::Withdrawn(_)));

    // Other names are skipped without being decoded.
    let other = recorded("pd.account.opened", b"not json");
    assert!(Transfer::route(&JsonCodec, &other).unwrap().is_none());

    // A listed name whose payload does not decode is an error naming the event.
    let bad = recorded("pd.transfer.requested", br#"{"id":"nine"}"#);
    let error = Transfer::route(&JsonCodec, &bad).unwrap_err();
    assert!(matches!(error.kind, DecodeErrorKind::Payload(_)));
    assert_eq!(&*error.name, "pd.transfer.requested");

    // The key may come from the envelope.
    let opened = recorded("pd.account.opened", b"null");
    let (instance, _) = Watch::route(&JsonCodec, &opened).unwrap().unwrap();
    assert_eq!(instance, Instance::Start("pd_account-1".to_owned()));
}

#[test]
fn react_and_on_timer_dispatch_to_the_impls() {
    // The dispatching methods, as the runtime calls them.
    let meta = recorded("pd.transfer.requested", b"{}");
    let mut transfer = Transfer::default();
    let mut out = Reaction::new(meta.recorded_at);
    transfer.react_event(&requested().into(), &meta, &mut out);
    assert_eq!((transfer.from, transfer.to, transfer.amount), (1, 2, 30));
    assert!(matches!(
        out.commands(),
        [TransferCommand::Withdraw(Withdraw {
            account: 1,
            amount: 30,
            transfer: 9
        })]
    ));
    assert!(matches!(
        out.timers(),
        [TimerChange::Set { at, timer: TransferTimer::Deadline(Deadline) }]
            if *at == meta.recorded_at + Duration::from_secs(900)
    ));

    let mut out = Reaction::new(meta.recorded_at);
    let deposited = Deposited {
        amount: 30,
        transfer: Some(9),
    };
    transfer.react_event(&deposited.into(), &meta, &mut out);
    assert!(out.is_finished());
    assert!(matches!(
        out.timers(),
        [TimerChange::Cancel { name: "Deadline" }]
    ));

    let mut out = Reaction::new(SystemTime::UNIX_EPOCH);
    transfer.fire_timer(&Remind { times: 1 }.into(), &mut out);
    assert!(matches!(
        out.timers(),
        [TimerChange::Set {
            timer: TransferTimer::Remind(Remind { times: 2 }),
            ..
        }]
    ));
    let mut out = Reaction::new(SystemTime::UNIX_EPOCH);
    transfer.fire_timer(&Deadline.into(), &mut out);
    assert!(out.is_finished());
    assert_eq!(
        transfer.log,
        ["requested", "deposited 30", "remind 1", "deadline"]
    );

    let mut watch = Watch::default();
    let mut out = Reaction::new(SystemTime::UNIX_EPOCH);
    watch.react_event(&Opened.into(), &meta, &mut out);
    assert_eq!(watch.opened, 1);
    assert!(out.commands().is_empty() && out.timers().is_empty());
}

fn transfer(from: u64, to: u64) -> Transfer {
    Transfer {
        id: 9,
        from,
        to,
        amount: 30,
        log: Vec::new(),
    }
}

async fn bank() -> (MemStore, Router) {
    let store = MemStore::new();
    let accounts = Repository::<Account, _>::new(store.clone());
    accounts.execute(Open { account: 1 }).await.unwrap();
    accounts.execute(Open { account: 2 }).await.unwrap();
    let router = Router::new().with(accounts);
    (store, router)
}

#[tokio::test]
async fn send_executes_through_the_router_and_answers_accepted() {
    let (store, router) = bank().await;
    let mut transfer = transfer(1, 2);
    let mut out = Reaction::new(SystemTime::UNIX_EPOCH);
    let withdraw = TransferCommand::from(Withdraw {
        account: 1,
        amount: 30,
        transfer: 9,
    });
    transfer
        .send_command(&withdraw, &router, CommandMeta::new(), &mut out)
        .await
        .unwrap();
    assert_eq!(transfer.log, ["withdraw accepted at 2"]);
    // The answer sent the next step.
    let [TransferCommand::Deposit(deposit)] = out.commands() else {
        panic!("expected one deposit, got {:?}", out.commands());
    };
    let next = TransferCommand::from(deposit.clone());
    transfer
        .send_command(&next, &router, CommandMeta::new(), &mut out)
        .await
        .unwrap();
    assert_eq!(transfer.log[1], "deposit accepted");

    let accounts = Repository::<Account, _>::new(store);
    assert_eq!(accounts.load(&1).await.unwrap().version, Version(2));
    assert_eq!(accounts.load(&2).await.unwrap().version, Version(2));
}

#[tokio::test]
async fn send_answers_a_refusal_with_the_aggregates_error() {
    let (_store, router) = bank().await;
    let mut transfer = transfer(1, 2);
    let mut out = Reaction::new(SystemTime::UNIX_EPOCH);
    let overdraft = TransferCommand::from(Withdraw {
        account: 1,
        amount: 500,
        transfer: 9,
    });
    let meta = CommandMeta::new().with_command_id(Uuid::from_u128(7));
    transfer
        .send_command(&overdraft, &router, meta.clone(), &mut out)
        .await
        .unwrap();
    assert!(out.is_finished());
    let refusal = format!(
        "withdraw refused: {:?}",
        AccountError::Overdraw {
            balance: 100,
            amount: 500
        }
    );
    assert_eq!(transfer.log, std::slice::from_ref(&refusal));

    // Sent again under the same id, it gets the same refusal (remembered, not decided again).
    let mut out = Reaction::new(SystemTime::UNIX_EPOCH);
    transfer
        .send_command(&overdraft, &router, meta, &mut out)
        .await
        .unwrap();
    assert_eq!(transfer.log, [refusal.clone(), refusal]);

    // A deposit to an account that is not open is refused too.
    let deposit = TransferCommand::from(Deposit {
        account: 3,
        amount: 1,
        transfer: 9,
    });
    transfer
        .send_command(&deposit, &router, CommandMeta::new(), &mut out)
        .await
        .unwrap();
    assert_eq!(transfer.log[2], "deposit refused: NotOpen");
}

#[tokio::test]
async fn send_answers_an_invalid_command_with_its_errors() {
    let (store, router) = bank().await;
    let mut transfer = transfer(1, 2);
    let mut out = Reaction::new(SystemTime::UNIX_EPOCH);
    let empty = TransferCommand::from(Withdraw {
        account: 1,
        amount: 0,
        transfer: 9,
    });
    transfer
        .send_command(&empty, &router, CommandMeta::new(), &mut out)
        .await
        .unwrap();
    assert_eq!(transfer.log, ["withdraw invalid: amount: must be positive"]);
    let accounts = Repository::<Account, _>::new(store);
    assert_eq!(accounts.load(&1).await.unwrap().version, Version(1));
}

#[tokio::test]
async fn send_without_a_route_is_an_error_and_answers_nothing() {
    let mut transfer = transfer(1, 2);
    let mut out = Reaction::new(SystemTime::UNIX_EPOCH);
    let withdraw = TransferCommand::from(Withdraw {
        account: 1,
        amount: 30,
        transfer: 9,
    });
    let error = transfer
        .send_command(&withdraw, &Router::new(), CommandMeta::new(), &mut out)
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        SendError::NoRoute {
            command: "Withdraw",
            aggregate: "pd_account"
        }
    ));
    assert!(transfer.log.is_empty() && out.commands().is_empty());
}

/// The future of `send` is `Send`, as the trait requires: a runtime may move it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_runs_on_a_spawned_task() {
    let (_store, router) = bank().await;
    let task = tokio::spawn(async move {
        let mut transfer = transfer(1, 2);
        let mut out = Reaction::new(SystemTime::UNIX_EPOCH);
        let withdraw = TransferCommand::from(Withdraw {
            account: 1,
            amount: 10,
            transfer: 9,
        });
        transfer
            .send_command(&withdraw, &router, CommandMeta::new(), &mut out)
            .await
            .unwrap();
        transfer.log
    });
    assert_eq!(task.await.unwrap(), ["withdraw accepted at 2"]);
}
