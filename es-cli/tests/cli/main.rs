//! The inspector's binaries on SQLite stores filled by the bank domain: `es-inspect` (the
//! standalone binary) and the bank's inspector (the library mounted with the bank's types).
//!
//! This program runs its tests one after the other. Called as `cli bank-inspect ARGS...` it
//! is the bank's inspector instead (what `cargo run --example bank -- inspect ARGS...`
//! runs), so the tests can run that inspector as a process, on a pipe or on a terminal.

mod catalog;
mod fill;
mod run;
mod tests;

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() == Some("bank-inspect".as_ref()) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let exit = runtime.block_on(es_examples::bank::inspect::main(
            std::iter::once("inspect".into()).chain(args),
        ));
        return exit.into();
    }
    tests::run_all()
}
