//! The contract checks of one rule: process managers' instances and timers commit together
//! with their checkpoint, and only if nobody committed first.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use uuid::Uuid;

use crate::envelope::Position;
use crate::process::{InstanceRow, ParkedRow, ProcessStore, ProcessWork, TimerRow};
use crate::projection::{Advance, Committed};

use super::{Checked, Failure, Tally};

const PROCESS: &str = "contract-process";

fn instance(key: &str, state: &'static [u8], revision: u64) -> InstanceRow {
    InstanceRow::new(
        key.to_owned(),
        Bytes::from_static(state),
        false,
        revision,
        None,
    )
}

fn at(seconds: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + seconds)
}

fn timer(key: &str, name: &str, due: SystemTime) -> TimerRow {
    TimerRow::new(
        key.to_owned(),
        name.to_owned(),
        Uuid::now_v7(),
        due,
        Bytes::from_static(b"{}"),
        Some(Uuid::from_u128(7)),
    )
}

fn work(advance: Option<Advance>, instances: Vec<InstanceRow>) -> ProcessWork {
    ProcessWork {
        advance,
        instances,
        ..ProcessWork::default()
    }
}

pub(super) async fn process_work_commits_with_its_checkpoint<S: ProcessStore>(
    store: &S,
    t: &mut Tally,
) -> Checked {
    let first = work(
        Some(Advance::new(Position::START, Position(4))),
        vec![instance("\"a\"", b"1", 0), instance("\"b\"", b"2", 0)],
    );
    ensure_eq!(
        t,
        store.commit_process(PROCESS, first).await?,
        Committed::Done,
        "the first batch"
    );
    ensure_eq!(
        t,
        store.load_checkpoint(PROCESS).await?,
        Some(Position(4)),
        "the checkpoint moved with it"
    );
    let keys = ["\"a\"".to_owned(), "\"b\"".to_owned(), "\"c\"".to_owned()];
    let mut loaded = store.load_instances(PROCESS, &keys).await?;
    loaded.sort_by(|x, y| x.key.cmp(&y.key));
    let revisions: Vec<(String, u64, Bytes)> = loaded
        .iter()
        .map(|row| (row.key.clone(), row.revision, row.state.clone()))
        .collect();
    ensure_eq!(
        t,
        revisions,
        vec![
            ("\"a\"".to_owned(), 1, Bytes::from_static(b"1")),
            ("\"b\"".to_owned(), 1, Bytes::from_static(b"2")),
        ],
        "instances at revision 1; an unknown key is missing"
    );
    // A stale checkpoint: nothing of the work is written.
    let stale = work(
        Some(Advance::new(Position::START, Position(9))),
        vec![instance("\"a\"", b"x", 1)],
    );
    ensure_eq!(
        t,
        store.commit_process(PROCESS, stale).await?,
        Committed::Moved,
        "a batch from a checkpoint that moved"
    );
    // A stale revision: nothing either, not even the checkpoint.
    let old = work(
        Some(Advance::new(Position(4), Position(6))),
        vec![instance("\"a\"", b"y", 1), instance("\"b\"", b"z", 0)],
    );
    ensure_eq!(
        t,
        store.commit_process(PROCESS, old).await?,
        Committed::Moved,
        "an instance written as new that exists"
    );
    ensure_eq!(
        t,
        store.load_checkpoint(PROCESS).await?,
        Some(Position(4)),
        "the checkpoint after refused work"
    );
    let a = store.load_instances(PROCESS, &keys[..1]).await?;
    ensure_eq!(
        t,
        a.first().map(|row| (row.revision, row.state.clone())),
        Some((1, Bytes::from_static(b"1"))),
        "the instance after refused work"
    );
    let next = work(
        Some(Advance::new(Position(4), Position(6))),
        vec![instance("\"a\"", b"3", 1)],
    );
    ensure_eq!(
        t,
        store.commit_process(PROCESS, next).await?,
        Committed::Done,
        "the next batch"
    );
    let a = store.load_instances(PROCESS, &keys[..1]).await?;
    ensure_eq!(
        t,
        a.first().map(|row| (row.revision, row.state.clone())),
        Some((2, Bytes::from_static(b"3"))),
        "revision 2"
    );
    ensure!(
        t,
        store
            .load_instances("another-process", &keys)
            .await?
            .is_empty(),
        "instances are per process"
    );
    Ok(())
}

pub(super) async fn process_timers_fire_once_in_order<S: ProcessStore>(
    store: &S,
    t: &mut Tally,
) -> Checked {
    let (early, late, later) = (
        timer("\"a\"", "Deadline", at(10)),
        timer("\"b\"", "Deadline", at(20)),
        timer("\"a\"", "Reminder", at(30)),
    );
    let set = ProcessWork {
        set_timers: vec![later.clone(), early.clone(), late.clone()],
        ..ProcessWork::default()
    };
    store.commit_process(PROCESS, set).await?;
    ensure_eq!(
        t,
        store.next_timer(PROCESS).await?,
        Some(early.due),
        "the earliest timer"
    );
    ensure!(
        t,
        store.due_timers(PROCESS, at(9), 10).await?.is_empty(),
        "nothing due before its time"
    );
    let due = store.due_timers(PROCESS, at(20), 10).await?;
    ensure_eq!(
        t,
        due,
        vec![early.clone(), late.clone()],
        "due at their time, earliest first"
    );
    ensure_eq!(
        t,
        store.due_timers(PROCESS, at(40), 1).await?,
        vec![early.clone()],
        "the limit"
    );
    let fire = ProcessWork {
        fired: vec![early.id],
        ..ProcessWork::default()
    };
    ensure_eq!(
        t,
        store.commit_process(PROCESS, fire.clone()).await?,
        Committed::Done,
        "firing"
    );
    ensure_eq!(
        t,
        store.commit_process(PROCESS, fire).await?,
        Committed::Moved,
        "firing again: it is gone"
    );
    // Replaced by name; cancelled by name; cleared by key.
    let replacement = timer("\"b\"", "Deadline", at(25));
    let change = ProcessWork {
        set_timers: vec![replacement.clone()],
        cancelled_timers: vec![("\"a\"".to_owned(), "Reminder".to_owned())],
        ..ProcessWork::default()
    };
    store.commit_process(PROCESS, change).await?;
    ensure_eq!(
        t,
        store.due_timers(PROCESS, at(100), 10).await?,
        vec![replacement.clone()],
        "the replaced timer, the cancelled one gone"
    );
    let stale = ProcessWork {
        fired: vec![late.id],
        ..ProcessWork::default()
    };
    ensure_eq!(
        t,
        store.commit_process(PROCESS, stale).await?,
        Committed::Moved,
        "a replaced timer's old id does not fire"
    );
    let clear = ProcessWork {
        cleared_timers: vec!["\"b\"".to_owned()],
        ..ProcessWork::default()
    };
    store.commit_process(PROCESS, clear).await?;
    ensure_eq!(t, store.next_timer(PROCESS).await?, None, "no timer left");
    Ok(())
}

pub(super) async fn parked_instances_are_listed_and_reset_clears_all<S: ProcessStore>(
    store: &S,
    t: &mut Tally,
) -> Checked {
    let parked = ParkedRow::new(
        "it panicked".to_owned(),
        Bytes::from_static(b"[1]"),
        at(5),
        false,
    );
    let mut row = instance("\"p\"", b"{}", 0);
    row.parked = Some(parked.clone());
    let mut finished = instance("\"f\"", b"", 0);
    finished.finished = true;
    let mut first = work(
        Some(Advance::new(Position::START, Position(2))),
        vec![row, finished, instance("\"q\"", b"{}", 0)],
    );
    first.set_timers = vec![timer("\"q\"", "Deadline", at(1))];
    store.commit_process(PROCESS, first).await?;
    let listed = store.parked_instances(PROCESS).await?;
    ensure_eq!(
        t,
        listed
            .iter()
            .map(|row| (row.key.clone(), row.parked.clone()))
            .collect::<Vec<_>>(),
        vec![("\"p\"".to_owned(), Some(parked))],
        "the parked instance, with its record"
    );
    let loaded = store.load_instances(PROCESS, &["\"f\"".to_owned()]).await?;
    ensure!(
        t,
        loaded.first().is_some_and(|row| row.finished),
        "a finished instance keeps its key"
    );
    store.reset_process(PROCESS).await?;
    ensure_eq!(
        t,
        store.load_checkpoint(PROCESS).await?,
        None,
        "no checkpoint"
    );
    ensure!(
        t,
        store
            .load_instances(PROCESS, &["\"p\"".to_owned(), "\"q\"".to_owned()])
            .await?
            .is_empty(),
        "no instance"
    );
    ensure_eq!(t, store.next_timer(PROCESS).await?, None, "no timer");
    ensure!(
        t,
        store.parked_instances(PROCESS).await?.is_empty(),
        "none parked"
    );
    Ok(())
}
