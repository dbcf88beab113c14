//! The codec seam: how event payloads become bytes and back.
//!
//! Stores hold payloads as bytes, never as Rust values, so the in-memory store behaves like
//! a durable one: a payload that cannot round-trip fails in tests, not in production.
//! [`JsonCodec`] (serde_json) is the default; another format plugs in by implementing
//! [`Codec`] and passing it to [`Repository::with_codec`](crate::Repository::with_codec).
//!
//! ```
//! use es_core::codec::{Codec, JsonCodec};
//!
//! let bytes = JsonCodec.encode(&vec![1, 2, 3]).unwrap();
//! assert_eq!(bytes, b"[1,2,3]");
//! let back: Vec<u32> = JsonCodec.decode(&bytes).unwrap();
//! assert_eq!(back, [1, 2, 3]);
//! ```

use std::error::Error as StdError;
use std::fmt::Debug;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Turns serde values into payload bytes and back.
///
/// A codec is a cheap, cloneable value (usually a unit struct). Its methods are generic over
/// serde types, so it is used as a type parameter rather than a trait object.
pub trait Codec: Debug + Clone + Send + Sync + 'static {
    /// Encodes `value`.
    ///
    /// # Errors
    /// When `value` cannot be represented in this format.
    fn encode<T: Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>, CodecError>;

    /// Decodes `bytes` into a `T`.
    ///
    /// # Errors
    /// When `bytes` are not a valid encoding of a `T`.
    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, CodecError>;
}

/// The default codec: JSON through `serde_json`.
///
/// Payloads are compact JSON objects (the serde representation of the event struct), readable
/// with any JSON tool. serde_json refuses input nested deeper than 128 levels, so a hostile
/// payload cannot exhaust the stack.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JsonCodec;

impl Codec for JsonCodec {
    fn encode<T: Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>, CodecError> {
        serde_json::to_vec(value).map_err(CodecError::new)
    }

    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, CodecError> {
        serde_json::from_slice(bytes).map_err(CodecError::new)
    }
}

/// A payload the codec could not encode or decode; the source is the codec's own error.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct CodecError {
    source: Box<dyn StdError + Send + Sync + 'static>,
}

impl CodecError {
    /// Wraps the error of a codec implementation.
    pub fn new(source: impl Into<Box<dyn StdError + Send + Sync + 'static>>) -> Self {
        Self {
            source: source.into(),
        }
    }

    /// The codec's own error, for downcasting (for example to `serde_json::Error`).
    #[must_use]
    pub fn get_ref(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.source
    }
}

/// An event encoded for storage: wire name, schema version and payload bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The event's wire name.
    pub name: &'static str,
    /// The event's schema version.
    pub version: u32,
    /// The encoded payload.
    pub payload: Bytes,
}
