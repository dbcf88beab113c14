//! The bank account domain on the in-memory store: a scenario printing each command and its
//! outcome, then the balance sheet read model.
//!
//! Run it with `cargo run --example bank`.

use std::error::Error;

use es_core::prelude::*;
use es_examples::bank::views::Balances;
use es_examples::bank::{
    Account, AccountCommand, AccountId, CloseAccount, Deposit, OpenAccount, Withdraw,
};
use es_memstore::MemStore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
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
