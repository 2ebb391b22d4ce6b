//! The SQS adapter of the [`DeliveryQueue`] port: one `SendMessage` per queued delivery, its
//! body the JSON [`DeliveryMessage`], `DelaySeconds` the wait (at most 900; the use case
//! chains longer waits).

use aws_sdk_sqs::Client;

use crate::delivery::{DeliveryMessage, DeliveryQueue};
use crate::domain::webhooks::MAX_QUEUE_DELAY;
use crate::error::{error_chain, BoxError};

#[derive(Clone)]
pub struct Sqs {
    client: Client,
    queue_url: String,
}

impl Sqs {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self { client, queue_url: queue_url.into() }
    }
}

/// The message body of a queued delivery.
pub fn message_body(message: &DeliveryMessage) -> Result<String, BoxError> {
    Ok(serde_json::to_string(message)?)
}

/// A queued delivery from an SQS message body.
pub fn parse_message(body: &str) -> Result<DeliveryMessage, BoxError> {
    Ok(serde_json::from_str(body)?)
}

impl Sqs {
    async fn send(&self, body: String, delay_seconds: u64) -> Result<(), BoxError> {
        let delay = delay_seconds.min(MAX_QUEUE_DELAY) as i32;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .delay_seconds(delay)
            .send()
            .await
            .map_err(|e| -> BoxError { format!("SQS SendMessage: {}", error_chain(&e)).into() })?;
        Ok(())
    }
}

impl DeliveryQueue for Sqs {
    async fn enqueue(&self, message: &DeliveryMessage, delay_seconds: u64) -> Result<(), BoxError> {
        self.send(message_body(message)?, delay_seconds).await
    }
}

/// A replay's next step: a `SendMessage` on the same queue, no delay.
impl crate::replay::ReplayQueue for Sqs {
    async fn enqueue_replay(&self, message: &crate::replay::ReplayMessage) -> Result<(), BoxError> {
        self.send(serde_json::to_string(message)?, 0).await
    }
}
