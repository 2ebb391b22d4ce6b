//! Webhook delivery over ports: the fan-out of a stream event to the endpoints that want it
//! (one delivery each, written once, then queued) and one attempt of a queued delivery (sign,
//! send, record, queue the retry), and the batches of the two functions that run them
//! (`webhook-fanout` on the DynamoDB stream, `webhook-delivery` on the SQS queue).

use std::future::Future;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::delivery::{order_wait, payload, receives, waits_for, Delivery, DeliveryStatus, Next, Outcome};
use crate::domain::webhooks::{queue_delay, DeliveryRules, Health, Webhook};
use crate::domain::{LifecycleEvent, Timestamp};
use crate::error::{error_chain, BoxError};
use crate::store::{DeliveryStore, OutboxFeed, StoreError, WebhookHealthStore, WebhookStore};

/// A queued delivery: which one, nothing else (the worker reads the rest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryMessage {
    pub portal_id: Uuid,
    pub webhook_id: Uuid,
    pub event_id: Uuid,
}

/// The delivery queue (SQS): a message becomes visible after `delay_seconds` (at most 900;
/// longer waits are chained by the worker).
pub trait DeliveryQueue: Send + Sync {
    fn enqueue(&self, message: &DeliveryMessage, delay_seconds: u64) -> impl Future<Output = Result<(), BoxError>> + Send;
}

/// One signed POST. The adapter resolves the host itself, refuses private, loopback,
/// link-local and metadata addresses (`domain::webhooks::check_resolved`), connects to the
/// checked address, follows no redirect and gives up after 15 s.
pub trait WebhookSender: Send + Sync {
    fn post(&self, url: &str, headers: &[(&'static str, String)], body: &str) -> impl Future<Output = Outcome> + Send;
}

/// Fans one stream event out: a delivery per enabled endpoint of its portal whose filters
/// match, created only once (a replayed record finds it and does not queue it again unless
/// it is still waiting for its first attempt). Returns how many were queued.
pub async fn fan_out<S: WebhookStore + DeliveryStore, Q: DeliveryQueue>(
    store: &S,
    queue: &Q,
    event: &LifecycleEvent,
    now: Timestamp,
) -> Result<usize, BoxError> {
    let mut queued = 0;
    for webhook in store.list_webhooks(event.portal_id).await?.iter().filter(|w| w.enabled && receives(w.id, &w.events, event)) {
        let delivery = Delivery::new(webhook, event, now);
        let created = store.create_delivery(&delivery).await?;
        let queue_it = created
            || store.get_delivery(webhook.id, event.id).await?.is_some_and(|d| d.status == DeliveryStatus::Pending && d.attempts == 0);
        if queue_it {
            let message = DeliveryMessage { portal_id: webhook.portal_id, webhook_id: webhook.id, event_id: event.id };
            queue.enqueue(&message, 0).await?;
            queued += 1;
        }
    }
    Ok(queued)
}

/// What the worker did with a message (all of them are acknowledged; an `Err` leaves the
/// message to reappear).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// The endpoint, the delivery or the event is gone, or the delivery is finished.
    Dropped,
    /// Not due yet: queued again for the rest of a chained wait.
    Waiting,
    /// An older delivery to the same endpoint about the same developer is still pending:
    /// queued again until just after its next attempt.
    WaitingForOlder,
    Attempted(Next),
}

/// One attempt of a queued delivery: dropped when finished or orphaned, queued again when not
/// due or when an older delivery of the same developer is pending (per-developer order), else
/// signed, sent, recorded, its retry queued, and the endpoint's health kept (the failing clock
/// started or stopped; disabled with a `webhook.disabled` event after failing for the rules'
/// period).
pub async fn attempt<S: WebhookStore + WebhookHealthStore + DeliveryStore, Q: DeliveryQueue, H: WebhookSender>(
    store: &S,
    queue: &Q,
    sender: &H,
    rules: &DeliveryRules,
    message: &DeliveryMessage,
    now: Timestamp,
) -> Result<Handled, BoxError> {
    let (webhook, delivery, event) = tokio::try_join!(
        store.get_webhook(message.portal_id, message.webhook_id),
        store.get_delivery(message.webhook_id, message.event_id),
        store.get_event(message.event_id),
    )?;
    let (Some(webhook), Some(mut delivery), Some(event)) = (webhook, delivery, event) else {
        return Ok(Handled::Dropped);
    };
    if delivery.status != DeliveryStatus::Pending || !webhook.enabled {
        return Ok(Handled::Dropped);
    }
    if let Some(due) = delivery.next_attempt_at.filter(|due| *due > now) {
        let (delay, _) = queue_delay((due - now).num_seconds().max(1) as u64);
        queue.enqueue(message, delay).await?;
        return Ok(Handled::Waiting);
    }
    if let Some(developer) = delivery.developer_id {
        let older = store.older_pending(webhook.id, developer, delivery.event_id).await?;
        if let Some(first) = waits_for(&older, now) {
            let delay = order_wait(first, now);
            delivery.wait_for_order(delay, now);
            match store.update_delivery(&delivery).await {
                Ok(()) => {}
                Err(StoreError::Conflict) => return Ok(Handled::Dropped),
                Err(e) => return Err(e.into()),
            }
            queue.enqueue(message, delay).await?;
            return Ok(Handled::WaitingForOlder);
        }
    }
    let body = payload(&event);
    let headers = crate::signing::webhook_headers(&webhook.signing_secrets(now), &event.id.to_string(), now.timestamp(), &body)?;
    let outcome = sender.post(&webhook.url, &headers, &body).await;
    let delivered = matches!(outcome, Outcome::Delivered { .. });
    let next = delivery.record(outcome, &rules.schedule, now);
    match store.update_delivery(&delivery).await {
        Ok(()) => {}
        // Another copy of the message got there first: it owns the delivery now.
        Err(StoreError::Conflict) => return Ok(Handled::Dropped),
        Err(e) => return Err(e.into()),
    }
    if let Next::RetryIn(seconds) = next {
        queue.enqueue(message, queue_delay(seconds).0).await?;
    }
    // The delivery is recorded and its retry queued: a failure to keep the endpoint's health
    // is logged, not retried (the next attempt judges it again).
    if let Err(e) = keep_health(store, &webhook, delivered, rules, now).await {
        tracing::warn!(webhook_id = %webhook.id, error = %error_chain(e.as_ref()), "endpoint health not recorded");
    }
    Ok(Handled::Attempted(next))
}

/// The endpoint's health after an attempt: the failing clock starts at the first failure and
/// stops at a success (one `UpdateItem` on a transition only); an endpoint failing for the
/// whole period is disabled together with its `webhook.disabled` event (one transaction),
/// which the stream consumer mails to the portal's admins.
async fn keep_health<S: WebhookHealthStore>(
    store: &S,
    webhook: &Webhook,
    delivered: bool,
    rules: &DeliveryRules,
    now: Timestamp,
) -> Result<(), BoxError> {
    match webhook.after_attempt(delivered, rules.disable_after_seconds, now) {
        Health::Unchanged => {}
        Health::StartedFailing(since) => store.set_failing_since(webhook.portal_id, webhook.id, Some(since)).await?,
        Health::Recovered => store.set_failing_since(webhook.portal_id, webhook.id, None).await?,
        Health::Disable => {
            let since = webhook.failing_since.unwrap_or(now);
            let mut disabled = webhook.clone();
            disabled.enabled = false;
            disabled.bump(now);
            let event = LifecycleEvent::webhook_disabled(webhook, since, now);
            if store.disable_webhook(&disabled, &event).await? {
                tracing::warn!(webhook_id = %webhook.id, failing_since = %since, "endpoint disabled after failing every delivery");
            }
        }
    }
    Ok(())
}

fn sequence_number(record: &serde_json::Value) -> String {
    record.get("dynamodb").and_then(|d| d.get("SequenceNumber")).and_then(serde_json::Value::as_str).unwrap_or_default().to_string()
}

/// A stream batch for `webhook-fanout`: records in order, stopping at the first failure and
/// returning its sequence number (Lambda retries from it; the records before it are done and
/// the fan-out is idempotent). Records that are not inserted events are skipped.
pub async fn fan_out_batch<S: WebhookStore + DeliveryStore + OutboxFeed, Q: DeliveryQueue>(
    store: &S,
    queue: &Q,
    records: &[serde_json::Value],
    now: Timestamp,
) -> Vec<String> {
    for record in records {
        let result = match store.inserted_event(record) {
            Ok(Some(event)) => fan_out(store, queue, &event, now).await.map(|_| ()),
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            let seq = sequence_number(record);
            tracing::error!(sequence_number = %seq, error = %error_chain(e.as_ref()), "fan-out failed");
            return vec![seq];
        }
    }
    Vec::new()
}
