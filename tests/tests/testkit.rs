//! The given/when/then kit on the user domain, and the exact format of its failure messages.

use std::panic::{AssertUnwindSafe, catch_unwind};

use es_core::testing::{given, projection};
use es_examples::user::views::{UserDirectory, UserStats};
use es_examples::user::{
    ChangeEmail, DeleteUser, EmailChanged, RegisterUser, User, UserCreated, UserDeleted, UserError,
    UserId, UserRenamed,
};

fn ada() -> UserId {
    UserId::new("ada")
}

fn created() -> UserCreated {
    UserCreated {
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        email: "ada@example.com".into(),
    }
}

/// The panic message of `f`, which must panic.
fn failure(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("the assertion fails");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .expect("a text panic message")
}

#[test]
fn passing_scenarios_read_as_given_when_then() {
    given::<User>([])
        .when(RegisterUser {
            user_id: ada(),
            first_name: " Ada ".into(),
            last_name: "Lovelace".into(),
            email: "ada@example.com".into(),
        })
        .then([created().into()])
        .then_state(|user| assert_eq!(user.full_name(), "Ada Lovelace"));

    given::<User>([created().into()])
        .when(ChangeEmail {
            user_id: ada(),
            email: "ada@example.com".into(),
        })
        .then([]);

    given::<User>([created().into(), UserDeleted {}.into()])
        .when(DeleteUser { user_id: ada() })
        .then_error(UserError::Deleted)
        .then_state(|user| assert!(user.is_deleted()));

    given::<User>([created().into()])
        .when(ChangeEmail {
            user_id: ada(),
            email: "nope".into(),
        })
        .then_invalid(["email"]);
}

#[test]
fn a_wrong_event_prints_a_line_per_event_diff() {
    let message = failure(|| {
        given::<User>([created().into()])
            .when(ChangeEmail {
                user_id: ada(),
                email: "ada@new.org".into(),
            })
            .then([EmailChanged {
                email: "ada@old.org".into(),
            }
            .into()]);
    });
    assert_eq!(
        message,
        "when ChangeEmail(ChangeEmail { user_id: UserId(\"ada\"), email: \"ada@new.org\" })\n\
         events differ (- expected, + actual):\n\
         \x20 - #0 user.email_changed v1 {\"email\":\"ada@old.org\"}\n\
         \x20 + #0 user.email_changed v1 {\"email\":\"ada@new.org\"}\n"
    );
}

#[test]
fn missing_and_extra_events_and_refusals_are_spelled_out() {
    let message = failure(|| {
        given::<User>([created().into()])
            .when(DeleteUser { user_id: ada() })
            .then([UserDeleted {}.into(), UserDeleted {}.into()]);
    });
    assert!(
        message.ends_with(
            "events differ (- expected, + actual):\n\
             \x20   #0 user.deleted v1 {}\n\
             \x20 - #1 user.deleted v1 {}\n"
        ),
        "{message}"
    );

    let message = failure(|| {
        given::<User>([])
            .when(DeleteUser { user_id: ada() })
            .then([UserDeleted {}.into()]);
    });
    assert!(
        message.ends_with(
            "expected events:\n    #0 user.deleted v1 {}\n\
             but the command was refused: no such user (NotFound)"
        ),
        "{message}"
    );

    let message = failure(|| {
        given::<User>([created().into()])
            .when(DeleteUser { user_id: ada() })
            .then_error(UserError::NotFound);
    });
    assert!(
        message.ends_with(
            "expected the error: NotFound\nbut the command succeeded with:\n    #0 user.deleted v1 {}\n"
        ),
        "{message}"
    );
}

#[test]
fn projections_are_given_events_by_stream_and_checked_by_state() {
    projection::<UserStats>()
        .given("user-ada", created())
        .given(
            "user-ada",
            EmailChanged {
                email: "a@b.cc".into(),
            },
        )
        .given(
            "user-ada",
            UserRenamed {
                first_name: "skipped: not listened to".into(),
                last_name: String::new(),
            },
        )
        .given("user-bob", created())
        .given("user-bob", UserDeleted {})
        .then(UserStats {
            registered: 2,
            deleted: 1,
            email_changes: 1,
        });

    projection::<UserDirectory>()
        .given("user-ada", created())
        .given(
            "user-ada",
            EmailChanged {
                email: "ada@new.org".into(),
            },
        )
        .then_state(|directory| {
            assert_eq!(directory.find_by_email("ada@new.org"), Some(&ada()));
            assert_eq!(directory.find_by_email("ada@example.com"), None);
        });
}

#[test]
fn a_wrong_projection_state_prints_both_states() {
    let message = failure(|| {
        projection::<UserStats>()
            .given("user-ada", created())
            .then(UserStats {
                registered: 2,
                deleted: 0,
                email_changes: 0,
            });
    });
    assert_eq!(
        message,
        "projection user-stats after 1 event(s):\n\
         expected state: UserStats {\n    registered: 2,\n    deleted: 0,\n    email_changes: 0,\n}\n\
         \x20 actual state: UserStats {\n    registered: 1,\n    deleted: 0,\n    email_changes: 0,\n}"
    );
}

#[test]
fn the_directory_keeps_every_user_that_shares_an_email() {
    let bob = UserId::new("bob");
    // Ada and Bob register with the same address (no aggregate sees the other); Bob leaves.
    projection::<UserDirectory>()
        .given("user-ada", created())
        .given("user-bob", created())
        .then_state(|directory| {
            let both: Vec<_> = directory.all_by_email("ada@example.com").collect();
            assert_eq!(both, [&ada(), &bob]);
        })
        .given("user-bob", UserDeleted {})
        .then_state(|directory| {
            assert_eq!(directory.find_by_email("ada@example.com"), Some(&ada()));
        })
        .given(
            "user-ada",
            EmailChanged {
                email: "ada@new.org".into(),
            },
        )
        .then_state(|directory| {
            assert_eq!(directory.find_by_email("ada@example.com"), None);
            assert_eq!(directory.find_by_email("ada@new.org"), Some(&ada()));
        });
}
