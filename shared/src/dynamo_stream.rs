//! Adapter: the DynamoDB stream's change records, read as the outbox ([`OutboxFeed`]). Only
//! this adapter knows that an event is an inserted item of kind `event`.

use aws_lambda_events::event::dynamodb::EventRecord;
use serde_json::Value;

use crate::domain::LifecycleEvent;
use crate::dynamo::{Dynamo, KIND_EVENT};
use crate::error::BoxError;
use crate::store::OutboxFeed;

/// The lifecycle event a DynamoDB stream record (as Lambda delivers it) inserted.
pub fn inserted_event(record: &Value) -> Result<Option<LifecycleEvent>, BoxError> {
    let record: EventRecord = serde_json::from_value(record.clone())?;
    if record.event_name != "INSERT" {
        return Ok(None);
    }
    let image = record.change.new_image;
    let kind: Option<String> = image.get("kind").and_then(|v| serde_dynamo::from_attribute_value(v.clone()).ok());
    if kind.as_deref() != Some(KIND_EVENT) {
        return Ok(None);
    }
    Ok(Some(serde_dynamo::from_item(image)?))
}

impl OutboxFeed for Dynamo {
    fn inserted_event(&self, record: &Value) -> Result<Option<LifecycleEvent>, BoxError> {
        inserted_event(record)
    }
}
