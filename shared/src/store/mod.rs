//! Storage ports: one trait per capability. The DynamoDB adapter ([`crate::dynamo`])
//! implements them all; services are generic over the traits they need.

use crate::error::{AppError, BoxError};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A condition failed: somebody else changed the item first (the API answers 409).
    #[error("the item was changed concurrently")]
    Conflict,
    /// The item (e.g. the portal) does not exist.
    #[error("not found")]
    NotFound,
    /// The cursor was not issued for this query.
    #[error("the cursor is invalid for this query")]
    BadCursor,
    /// DynamoDB is throttling or failing; the SDK already retried.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("storage error")]
    Other(#[source] BoxError),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => AppError::Conflict("the developer was changed by another request; read it again and retry".into()),
            StoreError::NotFound => AppError::not_found("portal"),
            StoreError::BadCursor => AppError::field("cursor", "is not a cursor issued for this query"),
            StoreError::Unavailable(m) => AppError::Unavailable(format!("the service is temporarily unavailable ({m}); retry shortly")),
            StoreError::Other(e) => AppError::Internal(e),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// What a lost conditional write means depends on the use case: each names its own answer
/// (`store.write(..).await.on_conflict(|| ...)`); every other store error maps as usual.
pub trait OnConflict<T> {
    fn on_conflict(self, answer: impl FnOnce() -> AppError) -> Result<T, AppError>;
}

impl<T> OnConflict<T> for StoreResult<T> {
    fn on_conflict(self, answer: impl FnOnce() -> AppError) -> Result<T, AppError> {
        self.map_err(|e| match e {
            StoreError::Conflict => answer(),
            e => e.into(),
        })
    }
}

/// A page of results, with the exact total when the query has one.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: Option<u64>,
    pub next_cursor: Option<String>,
}

mod access;
mod admin;
mod developers;
mod sso;
mod webhooks;

pub use access::*;
pub use admin::*;
pub use developers::*;
pub use sso::*;
pub use webhooks::*;
