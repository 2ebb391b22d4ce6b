//! Attribute values, raw items and expressions: the small pieces every request is built from.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{de::DeserializeOwned, Serialize};

use crate::store::{StoreError, StoreResult};

/// A raw item (or key) as the SDK sends and returns it.
pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// A timestamp as update expressions write it (the models write chrono's own form).
pub(crate) fn millis(t: crate::domain::Timestamp) -> AttributeValue {
    s(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// The primary key of an item.
pub(crate) fn key(pk: String, sk: &str) -> Item {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}

pub(crate) fn item_str(item: &Item, attr: &str) -> Option<String> {
    item.get(attr).and_then(|v| v.as_s().ok()).cloned()
}

/// Any error that is a defect or a malformed item rather than a database condition.
pub(crate) fn other(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Other(Box::new(e))
}

pub(crate) fn to_item<T: Serialize>(v: &T) -> StoreResult<Item> {
    serde_dynamo::to_item(v).map_err(other)
}

pub(crate) fn from_item<T: DeserializeOwned>(item: Item) -> StoreResult<T> {
    serde_dynamo::from_item(item).map_err(other)
}

/// An expression (condition or update) with its attribute names and values.
#[derive(Debug, Clone, Default)]
pub(crate) struct Expr {
    pub text: String,
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
}

impl Expr {
    pub fn new(text: impl Into<String>) -> Self {
        Self { text: text.into(), ..Self::default() }
    }
    pub fn name(mut self, placeholder: &str, attr: &str) -> Self {
        self.names.insert(placeholder.to_string(), attr.to_string());
        self
    }
    pub fn value(mut self, placeholder: &str, v: AttributeValue) -> Self {
        self.values.insert(placeholder.to_string(), v);
        self
    }
    /// The names, or `None` when there are none (the request then carries no map at all).
    pub fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }
    pub fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

/// Maps an SDK failure: throttling, 5xx and transport errors are `Unavailable` (the SDK has
/// already retried them), a failed condition is `Conflict`, everything else is `Other`.
pub(crate) fn classify<E>(e: SdkError<E>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &e {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => StoreError::Unavailable("no answer from DynamoDB".into()),
        SdkError::ServiceError(se) => {
            let code = se.err().code().unwrap_or_default();
            let status = se.raw().status().as_u16();
            if matches!(
                code,
                "ThrottlingException"
                    | "ProvisionedThroughputExceededException"
                    | "RequestLimitExceeded"
                    | "InternalServerError"
                    | "ServiceUnavailable"
            ) || status >= 500
            {
                StoreError::Unavailable(if code.is_empty() { format!("HTTP {status}") } else { code.to_string() })
            } else if code == "ConditionalCheckFailedException" {
                StoreError::Conflict
            } else {
                other(e)
            }
        }
        SdkError::ResponseError(r) if r.raw().status().as_u16() >= 500 => {
            StoreError::Unavailable(format!("HTTP {}", r.raw().status().as_u16()))
        }
        _ => other(e),
    }
}

/// A conditional single-item write whose failed condition is an expected outcome, not an error.
pub(crate) fn conflict_is<T>(result: StoreResult<T>, on_conflict: T) -> StoreResult<T> {
    match result {
        Err(StoreError::Conflict) => Ok(on_conflict),
        other => other,
    }
}
