//! The bank account's rules, through the given/when/then kit, and its balance read model.

use es_core::testing::{given, projection};
use es_examples::bank::views::Balances;
use es_examples::bank::{
    Account, AccountClosed, AccountError, AccountId, AccountOpened, CloseAccount, Deposit,
    MoneyDeposited, MoneyWithdrawn, OpenAccount, Withdraw,
};

const ACC: AccountId = AccountId(7);

fn opened() -> AccountOpened {
    AccountOpened {
        owner: "Alice".into(),
    }
}

#[test]
fn an_account_is_opened_once_for_a_named_owner() {
    given::<Account>([])
        .when(OpenAccount {
            account: ACC,
            owner: "  Alice ".into(),
        })
        .then([opened().into()]);
    given::<Account>([])
        .when(OpenAccount {
            account: ACC,
            owner: " ".into(),
        })
        .then_error(AccountError::BlankOwner);
    given::<Account>([opened().into()])
        .when(OpenAccount {
            account: ACC,
            owner: "Eve".into(),
        })
        .then_error(AccountError::AlreadyOpen);
}

#[test]
fn deposits_and_withdrawals_move_the_balance() {
    given::<Account>([opened().into(), MoneyDeposited { amount: 500 }.into()])
        .when(Withdraw {
            account: ACC,
            amount: 200,
        })
        .then([MoneyWithdrawn { amount: 200 }.into()])
        .then_state(|account| assert_eq!(account.balance(), 300));
    given::<Account>([opened().into()])
        .when(Deposit {
            account: ACC,
            amount: 1,
        })
        .then([MoneyDeposited { amount: 1 }.into()]);
}

#[test]
fn overdrawing_is_refused() {
    given::<Account>([opened().into(), MoneyDeposited { amount: 500 }.into()])
        .when(Withdraw {
            account: ACC,
            amount: 501,
        })
        .then_error(AccountError::Overdraw {
            balance: 500,
            requested: 501,
        })
        .then_state(|account| assert_eq!(account.balance(), 500));
    // Withdrawing the whole balance is fine.
    given::<Account>([opened().into(), MoneyDeposited { amount: 500 }.into()])
        .when(Withdraw {
            account: ACC,
            amount: 500,
        })
        .then([MoneyWithdrawn { amount: 500 }.into()]);
}

#[test]
fn amounts_must_be_positive() {
    for amount in [0, -1, i64::MIN] {
        given::<Account>([opened().into()])
            .when(Deposit {
                account: ACC,
                amount,
            })
            .then_error(AccountError::NonPositiveAmount(amount));
        given::<Account>([opened().into(), MoneyDeposited { amount: 10 }.into()])
            .when(Withdraw {
                account: ACC,
                amount,
            })
            .then_error(AccountError::NonPositiveAmount(amount));
    }
}

#[test]
fn closing_with_a_balance_is_refused_and_a_closed_account_takes_nothing() {
    given::<Account>([opened().into(), MoneyDeposited { amount: 5 }.into()])
        .when(CloseAccount { account: ACC })
        .then_error(AccountError::NonZeroBalance(5));
    given::<Account>([
        opened().into(),
        MoneyDeposited { amount: 5 }.into(),
        MoneyWithdrawn { amount: 5 }.into(),
    ])
    .when(CloseAccount { account: ACC })
    .then([AccountClosed {}.into()])
    .then_state(|account| assert!(account.is_closed()));
    given::<Account>([opened().into(), AccountClosed {}.into()])
        .when(Deposit {
            account: ACC,
            amount: 5,
        })
        .then_error(AccountError::Closed);
    given::<Account>([])
        .when(Withdraw {
            account: ACC,
            amount: 5,
        })
        .then_error(AccountError::NotFound);
}

#[test]
fn the_balance_sheet_follows_every_account() {
    let mut expected = Balances::default();
    expected.open.insert(AccountId(1), ("Alice".into(), 700));
    expected.total = 700;
    expected.closed = 1;
    projection::<Balances>()
        .given("account-1", opened())
        .given(
            "account-2",
            AccountOpened {
                owner: "Bob".into(),
            },
        )
        .given("account-1", MoneyDeposited { amount: 1_000 })
        .given("account-2", MoneyDeposited { amount: 50 })
        .given("account-1", MoneyWithdrawn { amount: 300 })
        .given("account-2", MoneyWithdrawn { amount: 50 })
        .given("account-2", AccountClosed {})
        .then(expected);
}
