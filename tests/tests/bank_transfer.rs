//! The transfer workflow's decisions, through the process manager kit: no store, no runtime.
#![allow(clippy::unwrap_used)]

use es_core::prelude::*;
use es_core::process::Accepted;
use es_core::testing::process;
use es_examples::bank::process::{
    DEADLINE, Deadline, RETRY_CREDIT, RetryCredit, Step, TransferProcess,
};
use es_examples::bank::transfer::{
    CancelTransfer, CompleteTransfer, TransferId, TransferRequested,
};
use es_examples::bank::{AccountError, AccountId, Deposit, Withdraw};

const FROM: AccountId = AccountId(1);
const TO: AccountId = AccountId(2);

fn transfer() -> TransferId {
    TransferId(Uuid::from_u128(0x7))
}

fn stream() -> String {
    format!("transfer-{}", transfer())
}

fn requested() -> TransferRequested {
    TransferRequested {
        from: FROM,
        to: TO,
        amount: 250,
    }
}

fn accepted() -> Outcome<AccountError> {
    let account = StreamId::new("account-2").unwrap();
    Outcome::Accepted(Accepted::new(account, Version(3), Some(Position(9))))
}

fn deposit(account: AccountId) -> Deposit {
    Deposit {
        account,
        amount: 250,
    }
}

#[test]
fn a_request_withdraws_and_sets_the_deadline() {
    process::<TransferProcess>()
        .when(&stream(), requested())
        .then_starts(transfer())
        .then_sends([Withdraw {
            account: FROM,
            amount: 250,
        }])
        .then_sets_timer(Deadline, DEADLINE)
        .then_state(|p| assert_eq!((p.step.clone(), p.amount), (Step::Debiting, 250)));
}

#[test]
fn an_accepted_withdrawal_deposits_a_refused_one_cancels() {
    process::<TransferProcess>()
        .given(&stream(), requested())
        .when_answered(
            Withdraw {
                account: FROM,
                amount: 250,
            },
            accepted(),
        )
        .then_sends([deposit(TO)])
        .then_state(|p| assert_eq!((p.step.clone(), p.credit_attempts), (Step::Crediting, 1)));
    process::<TransferProcess>()
        .given(&stream(), requested())
        .when_answered(
            Withdraw {
                account: FROM,
                amount: 250,
            },
            Outcome::Refused(AccountError::Overdraw {
                balance: 10,
                requested: 250,
            }),
        )
        .then_sends([CancelTransfer {
            transfer: transfer(),
            reason: "not withdrawn: cannot withdraw 250 cents: the balance is 10 cents".into(),
        }])
        .then_cancels_timer::<Deadline>();
}

fn crediting() -> TransferProcess {
    TransferProcess {
        transfer: transfer(),
        from: FROM,
        to: TO,
        amount: 250,
        step: Step::Crediting,
        credit_attempts: 1,
    }
}

#[test]
fn a_deposit_completes_retries_a_frozen_account_and_pays_back_a_closed_one() {
    process::<TransferProcess>()
        .with_state(crediting())
        .when_answered(deposit(TO), accepted())
        .then_sends([CompleteTransfer {
            transfer: transfer(),
        }])
        .then_cancels_timer::<Deadline>();
    process::<TransferProcess>()
        .with_state(crediting())
        .when_answered(deposit(TO), Outcome::Refused(AccountError::Frozen))
        .then_sends::<Deposit>([])
        .then_sets_timer(RetryCredit, RETRY_CREDIT);
    process::<TransferProcess>()
        .with_state(crediting())
        .when_answered(deposit(TO), Outcome::Refused(AccountError::Closed))
        .then_sends([deposit(FROM)])
        .then_cancels_timer::<RetryCredit>()
        .then_state(|p| {
            assert_eq!(
                p.step,
                Step::Refunding("not deposited: the account is closed".into())
            );
        });
}

#[test]
fn timers_retry_the_deposit_and_the_deadline_pays_back() {
    process::<TransferProcess>()
        .with_state(crediting())
        .when_timer(RetryCredit)
        .then_sends([deposit(TO)])
        .then_state(|p| assert_eq!(p.credit_attempts, 2));
    process::<TransferProcess>()
        .with_state(crediting())
        .when_timer(Deadline)
        .then_sends([deposit(FROM)]);
    let mut done = crediting();
    done.step = Step::Completing;
    process::<TransferProcess>()
        .with_state(done)
        .when_timer(Deadline)
        .then_sends::<Deposit>([]);
}

#[test]
fn ending_the_transfer_finishes_the_instance() {
    process::<TransferProcess>()
        .with_state(crediting())
        .when_answered(
            CompleteTransfer {
                transfer: transfer(),
            },
            Outcome::Accepted(Accepted::new(
                StreamId::new(stream()).unwrap(),
                Version(2),
                None,
            )),
        )
        .then_finished();
}

#[test]
#[should_panic(
    expected = "the commands sent differ:\n  - #0 Deposit(Deposit { account: AccountId(9)"
)]
fn the_kit_shows_a_diff_of_the_commands_sent() {
    process::<TransferProcess>()
        .with_state(crediting())
        .when_timer(RetryCredit)
        .then_sends([deposit(AccountId(9))]);
}

#[test]
#[should_panic(expected = "expected timer RetryCredit cancelled")]
fn the_kit_names_a_timer_left_set() {
    process::<TransferProcess>()
        .with_state(crediting())
        .when_timer(RetryCredit)
        .then_cancels_timer::<RetryCredit>();
}
