//! The `webhook-delivery` function's batch: every message of the delivery queue is a
//! delivery's attempt (`crate::delivery`) or a replay's step (`crate::replay`), told apart by
//! its fields. Kept apart from both so that neither imports the other's caller.

use crate::delivery::{attempt, DeliveryQueue, WebhookSender};
use crate::domain::webhooks::DeliveryRules;
use crate::domain::Timestamp;
use crate::error::error_chain;
use crate::replay::{Queued, ReplayQueue};
use crate::store::{DeliveryStore, ReplayStore, WebhookHealthStore, WebhookStore};

/// An SQS batch for `webhook-delivery`: `(message id, body)` pairs (a delivery's attempt or
/// a replay's step) run concurrently; returns the ids of the messages that failed (they
/// reappear after the visibility timeout and, after `maxReceiveCount`, go to the DLQ). An
/// unreadable body fails alone.
pub async fn delivery_batch<
    S: WebhookStore + WebhookHealthStore + DeliveryStore + ReplayStore,
    Q: DeliveryQueue + ReplayQueue,
    H: WebhookSender,
>(
    store: &S,
    queue: &Q,
    sender: &H,
    rules: &DeliveryRules,
    messages: &[(String, String)],
    now: Timestamp,
) -> Vec<String> {
    let attempts = messages.iter().map(|(id, body)| async move {
        let result = match serde_json::from_str::<Queued>(body) {
            Ok(Queued::Delivery(message)) => attempt(store, queue, sender, rules, &message, now).await.map(|h| format!("{h:?}")),
            Ok(Queued::Replay(message)) => crate::replay::step(store, queue, sender, rules, &message, now).await.map(|h| format!("{h:?}")),
            Err(e) => Err(e.into()),
        };
        match result {
            Ok(handled) => {
                tracing::info!(message_id = %id, %handled, "delivery message");
                None
            }
            Err(e) => {
                tracing::error!(message_id = %id, error = %error_chain(e.as_ref()), "delivery message failed");
                Some(id.clone())
            }
        }
    });
    futures::future::join_all(attempts).await.into_iter().flatten().collect()
}
