//! The bank account domain on the in-memory store: a scenario printing each command and its
//! outcome; then transfers between accounts, carried out by the transfer process manager
//! (completed, refused, paid back, retried into a frozen account, past their deadline); then
//! the balance sheet read model.
//!
//! Run it with `cargo run --example bank`; `cargo run --example bank -- catalog --format html`
//! prints the domain's catalog instead (or `mermaid`, `dot`, `json`).
//!
//! `cargo run --example bank -- inspect --sqlite FILE <subcommand>` runs the inspector
//! (es-cli) on an SQLite store of the bank, with the bank's types registered (see
//! `es_examples::bank::inspect`); `-- inspect --help` lists the subcommands.

use std::error::Error;
use std::time::SystemTime;

use es_core::prelude::*;
use es_core::process::{ManualClock, Workflow};
use es_examples::bank::process::{DEADLINE, RETRY_CREDIT, TransferProcess, workflow};
use es_examples::bank::transfer::{RequestTransfer, Transfer, TransferId};
use es_examples::bank::views::Balances;
use es_examples::bank::{
    Account, AccountCommand, AccountId, CloseAccount, Deposit, FreezeAccount, OpenAccount,
    UnfreezeAccount, Withdraw,
};
use es_memstore::MemStore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    // `bank inspect --sqlite FILE <subcommand>`: the inspector, with the bank's types.
    if std::env::args().nth(1).as_deref() == Some("inspect") {
        let exit = es_examples::bank::inspect::main(std::env::args_os().skip(1)).await;
        std::process::exit(exit.code().into())
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(catalog) = es_examples::cli::catalog(&args, es_examples::bank::catalog::catalog) {
        match catalog {
            Ok(text) => print!("{text}"),
            Err(error) => {
                eprintln!("error: {error}");
                std::process::exit(2);
            }
        }
        return Ok(());
    }
    let store = MemStore::new();
    let accounts = Repository::<Account, _>::new(store.clone());
    let (alice, bob) = (AccountId(1), AccountId(2));

    let scenario: Vec<AccountCommand> = vec![
        OpenAccount {
            account: alice,
            owner: "Alice".into(),
        }
        .into(),
        Deposit {
            account: alice,
            amount: 10_000,
        }
        .into(),
        Withdraw {
            account: alice,
            amount: 2_500,
        }
        .into(),
        Withdraw {
            account: alice,
            amount: 9_000,
        }
        .into(),
        Deposit {
            account: alice,
            amount: -5,
        }
        .into(),
        Deposit {
            account: bob,
            amount: 100,
        }
        .into(),
        OpenAccount {
            account: bob,
            owner: "Bob".into(),
        }
        .into(),
        Deposit {
            account: bob,
            amount: 4_200,
        }
        .into(),
        CloseAccount { account: bob }.into(),
        Withdraw {
            account: bob,
            amount: 4_200,
        }
        .into(),
        CloseAccount { account: bob }.into(),
        Deposit {
            account: bob,
            amount: 1,
        }
        .into(),
    ];

    println!("Commands");
    for command in scenario {
        let line = describe(&command);
        let id = *command.aggregate_id();
        match accounts.execute(command).await {
            Ok(done) => {
                let balance = accounts.load(&id).await?;
                println!(
                    "  ok       {line:<28} -> v{}, balance {} cents",
                    done.stream_version,
                    balance.state.balance()
                );
            }
            Err(ExecuteError::Domain(refusal)) => println!("  refused  {line:<28} -> {refusal}"),
            Err(other) => return Err(other.into()),
        }
    }

    transfers(&store).await?;

    let sheet = ProjectionRunner::new(store.clone(), Balances::default());
    let reached = sheet.catch_up().await?;
    let sheet = sheet.read().clone();
    println!("\nBalance sheet at position {reached}");
    for (account, (owner, balance)) in &sheet.open {
        println!("  account {account:<3} {owner:<6} {balance:>7} cents");
    }
    println!(
        "  total held: {} cents; accounts closed: {}",
        sheet.total, sheet.closed
    );
    Ok(())
}

/// Transfers between accounts, carried out by the transfer process manager. Its clock is
/// moved by hand here, to show the retries and the deadline without waiting for them.
async fn transfers(store: &MemStore) -> Result<(), Box<dyn Error>> {
    let accounts = Repository::<Account, _>::new(store.clone());
    let transfers = Repository::<Transfer, _>::new(store.clone());
    let (alice, carol, dave, erin) = (AccountId(1), AccountId(3), AccountId(4), AccountId(5));
    for (account, owner) in [(carol, "Carol"), (dave, "Dave"), (erin, "Erin")] {
        let owner = owner.to_owned();
        accounts.execute(OpenAccount { account, owner }).await?;
    }
    accounts.execute(FreezeAccount { account: dave }).await?;
    accounts.execute(FreezeAccount { account: erin }).await?;

    println!("\nTransfers");
    let requests = [
        ("Alice pays Carol", alice, carol, 1_500),
        (
            "Alice pays Bob, whose account is closed",
            alice,
            AccountId(2),
            700,
        ),
        ("Carol pays Alice more than she has", carol, alice, 9_999),
        ("Alice pays Dave, whose account is frozen", alice, dave, 300),
        ("Alice pays Erin, frozen for good", alice, erin, 200),
    ];
    let mut requested = Vec::new();
    for (what, from, to, amount) in requests {
        let transfer = TransferId::new();
        transfers
            .execute(RequestTransfer {
                transfer,
                from,
                to,
                amount,
            })
            .await?;
        requested.push((what, transfer));
    }

    let clock = ManualClock::new(SystemTime::now());
    let workflow = workflow(store).with_clock(clock.clone());
    let process = ProjectionRunner::new(store.clone(), workflow);
    process.catch_up().await?;
    report(&process, &transfers, &requested, "at once").await?;

    accounts.execute(UnfreezeAccount { account: dave }).await?;
    clock.advance(RETRY_CREDIT);
    process.catch_up().await?;
    report(
        &process,
        &transfers,
        &requested,
        "Dave unfrozen, 30 s later",
    )
    .await?;

    clock.advance(DEADLINE);
    process.catch_up().await?;
    report(&process, &transfers, &requested, "15 minutes later").await?;
    Ok(())
}

/// One line per transfer: where it stands, and where its money is.
async fn report(
    process: &ProjectionRunner<Workflow<TransferProcess, MemStore>, MemStore>,
    transfers: &Repository<Transfer, MemStore>,
    requested: &[(&str, TransferId)],
    when: &str,
) -> Result<(), Box<dyn Error>> {
    println!("  {when}:");
    for (what, transfer) in requested {
        let state = transfers.load(transfer).await?.state;
        let status = match state.reason() {
            Some(reason) => format!("{:?}: {reason}", state.status()),
            None => format!("{:?}", state.status()),
        };
        let detail = match process.target().instance(transfer).await? {
            Some(instance) => format!(
                "{:?}, {} deposit(s) tried",
                instance.step, instance.credit_attempts
            ),
            None => "done".to_owned(),
        };
        println!("    {what:<42} {status} ({detail})");
    }
    Ok(())
}

/// A command as one short line: `Withdraw 9000 from 1`.
fn describe(command: &AccountCommand) -> String {
    match command {
        AccountCommand::OpenAccount(c) => format!("OpenAccount {} for {}", c.account, c.owner),
        AccountCommand::Deposit(c) => format!("Deposit {} into {}", c.amount, c.account),
        AccountCommand::Withdraw(c) => format!("Withdraw {} from {}", c.amount, c.account),
        AccountCommand::FreezeAccount(c) => format!("FreezeAccount {}", c.account),
        AccountCommand::UnfreezeAccount(c) => format!("UnfreezeAccount {}", c.account),
        AccountCommand::CloseAccount(c) => format!("CloseAccount {}", c.account),
    }
}
