//! Compile-fail ("UI") tests of the `Event`, `Command`, `Aggregate`, `Projection` and
//! `ProcessManager` derives: each file of `tests/ui/*/` is one misuse, checked against the
//! compiler output in its `.stderr`; each file of `tests/ui-pass/` is a tricky but valid
//! input that must compile.
//!
//! The snapshots depend on the exact compiler output, so the test runs only on the CI
//! toolchain (stable 1.95) and is ignored elsewhere. After changing a diagnostic, bless the
//! snapshots and review the diff of every `.stderr`:
//!
//! ```sh
//! TRYBUILD=overwrite cargo test -p es-tests --test ui
//! ```

#[test]
#[rustversion::attr(
    not(stable(1.95)),
    ignore = "UI snapshots are pinned to the CI toolchain, stable 1.95"
)]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/*/*.rs");
    t.pass("ui-pass/*.rs");
}
