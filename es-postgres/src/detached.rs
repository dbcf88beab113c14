//! Transactions that run to their end even when their caller stops waiting.
//!
//! A future dropped in the middle of a transaction (a runner stopped by its task being
//! aborted, a `select!` that took another branch) would leave the transaction's connection
//! half-way through a statement and return it to the pool so. Each of the store's
//! transactions therefore runs in a task of its own: dropping the caller's future leaves the
//! task to commit or roll back, and only then does the connection go back to the pool. The
//! caller that stopped waiting never learns the outcome, which the stored state tells (a
//! runner reads its checkpoint again).

use std::future::Future;

use es_core::StoreError;

/// Runs `transaction` in a task of its own and waits for it; see the module documentation.
///
/// # Errors
/// The transaction's error, or [`StoreError::Backend`] when its task panicked or the runtime
/// shut down under it.
pub(crate) async fn detached<T, F>(transaction: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: Future<Output = Result<T, StoreError>> + Send + 'static,
{
    match tokio::spawn(transaction).await {
        Ok(outcome) => outcome,
        Err(error) => Err(StoreError::Backend(
            format!("es-postgres: a transaction's task ended without an outcome: {error}").into(),
        )),
    }
}
