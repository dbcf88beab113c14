//! The read bound: the transaction id below which every append of the store has finished,
//! computed by the `read_bound` function (see "Global order" in the crate docs).
//!
//! A bound never becomes wrong: a transaction below it that was no append when it was
//! computed can never become one (`allocate` refuses a transaction that already has an id),
//! and the appends below it had finished. So the rows below a bound are final, and every
//! later read can use it. The store keeps the highest bound any of its readers computed, and
//! `read_all` reads a page with it in one plain statement, computing a new bound only when
//! the page comes back short: catching up over a long log costs one statement per page, as a
//! hand-written `SELECT` by position does.

use std::sync::atomic::{AtomicU64, Ordering};

use es_core::StoreError;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::types::Oid;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueFormat, PgValueRef};
use sqlx::{Decode, Encode, Postgres, Type};

use crate::PgStore;
use crate::values::backend;

/// An `xid8`, a 64-bit transaction id, as PostgreSQL sends and takes it in binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Xid8(pub(crate) u64);

impl Type<Postgres> for Xid8 {
    fn type_info() -> PgTypeInfo {
        // The OID of the built-in `xid8`, the same in every database.
        PgTypeInfo::with_oid(Oid(5069))
    }
}

impl<'r> Decode<'r, Postgres> for Xid8 {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        match value.format() {
            PgValueFormat::Binary => {
                let bytes: [u8; 8] = value.as_bytes()?.try_into().map_err(|_| {
                    format!(
                        "{} bytes where an xid8 has 8",
                        value.as_bytes().map_or(0, <[u8]>::len)
                    )
                })?;
                Ok(Self(u64::from_be_bytes(bytes)))
            }
            PgValueFormat::Text => Err("an xid8 sent as text, not binary".into()),
        }
    }
}

impl Encode<'_, Postgres> for Xid8 {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        buf.extend_from_slice(&self.0.to_be_bytes());
        Ok(IsNull::No)
    }
}

/// The highest read bound the store's readers have computed (0 before the first).
#[derive(Debug, Default)]
pub(crate) struct KnownBound(AtomicU64);

impl KnownBound {
    /// The highest bound known.
    pub(crate) fn get(&self) -> Xid8 {
        Xid8(self.0.load(Ordering::Acquire))
    }

    /// Records a bound just computed; returns the highest known.
    pub(crate) fn raise(&self, bound: Xid8) -> Xid8 {
        Xid8(self.0.fetch_max(bound.0, Ordering::AcqRel).max(bound.0))
    }
}

impl PgStore {
    /// Computes the read bound now (`sql/read_bound.sql`), records it, and returns the highest
    /// bound known. Rows read by a later statement below it are final.
    pub(crate) async fn raise_read_bound(&self) -> Result<Xid8, StoreError> {
        let computed: Xid8 = sqlx::query_scalar(&self.inner.sql.read_bound)
            .fetch_one(&self.inner.pool)
            .await
            .map_err(backend)?;
        Ok(self.inner.bound.raise(computed))
    }
}
