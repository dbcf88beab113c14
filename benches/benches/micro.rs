//! Micro benchmarks (divan): one framework operation against its hand-written baseline.
//!
//! ```text
//! cargo bench -p es-bench
//! ```
//!
//! The table of speed goals is the `es-bench` binary (`cargo run --release -p es-bench`);
//! these are the per-operation figures behind it, with divan's statistics.

use divan::Bencher;
use es_bench::Step;
use es_bench::baseline::PlainRepository;
use es_bench::domain::{Account, Deposited};
use es_core::codec::JsonCodec;
use es_core::event::encode_event;
use es_core::{EventStore, ExpectedVersion, NewEvent, Repository, StreamId};
use es_memstore::MemStore;
use tokio::runtime::Runtime;

fn main() {
    divan::main();
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime")
}

/// A store and repository holding account 1 with `events` events.
fn account_with(rt: &Runtime, events: u64) -> Repository<Account, MemStore> {
    let repo = Repository::<Account, _>::new(MemStore::new());
    rt.block_on(async {
        for i in 0..events {
            repo.execute(Step::nth(i).command(1))
                .await
                .expect("the command succeeds");
        }
    });
    repo
}

/// The framework.
mod framework {
    use super::*;

    /// A deposit on an account whose state is in the repository's cache.
    #[divan::bench]
    fn command_on_cached_aggregate(bencher: Bencher<'_, '_>) {
        let rt = runtime();
        let repo = account_with(&rt, 1);
        bencher.bench_local(|| rt.block_on(repo.execute(Step::Deposit(2).command(1))));
    }

    /// Loading (replaying) an account with 1,000 events.
    #[divan::bench]
    fn load_1000_event_stream(bencher: Bencher<'_, '_>) {
        let rt = runtime();
        let repo = account_with(&rt, 1_000);
        bencher.bench_local(|| rt.block_on(repo.load(&1)));
    }

    /// `EventStore::append` of one pre-encoded event to one stream.
    #[divan::bench]
    fn raw_append(bencher: Bencher<'_, '_>) {
        let rt = runtime();
        let store = MemStore::new();
        let stream = StreamId::new("account-1").expect("a valid stream id");
        let encoded = encode_event(&JsonCodec, &Deposited { amount: 2 }).expect("encodes");
        bencher
            .with_inputs(|| vec![NewEvent::new(encoded.clone())])
            .bench_local_values(|events| {
                rt.block_on(store.append(&stream, ExpectedVersion::Any, events))
            });
    }
}

/// The hand-written baseline doing the same.
mod baseline {
    use super::*;
    use es_bench::baseline::{PlainStore, Stored};

    /// A deposit on an account whose state is in the state map.
    #[divan::bench]
    fn command_on_cached_aggregate(bencher: Bencher<'_, '_>) {
        let mut repo = PlainRepository::new().with_cache();
        repo.execute(1, Step::Open).expect("opens");
        bencher.bench_local(|| repo.execute(1, Step::Deposit(2)));
    }

    /// Decoding and folding the 1,000 events of an account by hand.
    #[divan::bench]
    fn load_1000_event_stream(bencher: Bencher<'_, '_>) {
        let mut repo = PlainRepository::new().with_cache();
        for i in 0..1_000 {
            repo.execute(1, Step::nth(i)).expect("the command succeeds");
        }
        bencher.bench_local(|| repo.load(1));
    }

    /// Pushing one encoded event on a stream of the plain map.
    #[divan::bench]
    fn raw_append(bencher: Bencher<'_, '_>) {
        let mut store = PlainStore::default();
        let payload = serde_json::to_vec(&Deposited { amount: 2 }).expect("encodes");
        bencher
            .with_inputs(|| Stored {
                name: es_bench::baseline::DEPOSITED,
                payload: payload.clone(),
            })
            .bench_local_values(|event| store.push("account-1", event));
    }
}
