//! Replays of an endpoint (`POST .../webhooks/{id}/replay`): the request stores a replay item
//! and queues its first step; each step (a message on the delivery queue, run by
//! `webhook-delivery`) reads a page of the portal's event feed after the replay's cursor,
//! takes the first event the endpoint wants (conditionally, so one copy of a message takes a
//! step), starts a new attempt cycle of its delivery, attempts it at once (so events arrive in
//! order while the receiver is up) and queues the next step. A large window never runs in one
//! request: one delivered event per step.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::delivery::{attempt, DeliveryMessage, DeliveryQueue, Handled, WebhookSender};
use crate::domain::audit::parse_time;
use crate::domain::delivery::Delivery;
use crate::domain::replay::{check_window, Replay, ReplayStatus, REPLAY_PAGE};
use crate::domain::webhooks::{DeliveryRules, Webhook};
use crate::domain::{LifecycleEvent, Timestamp};
use crate::error::{AppError, BoxError};
use crate::fields::Fields;
use crate::store::{AdminToken, DeliveryStore, PortalStore, ReplayStore, StoreError, WebhookHealthStore, WebhookStore};

/// One step of a replay: which replay, and the cursor it expects (a copy of a message whose
/// step was taken finds the cursor moved and is dropped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayMessage {
    pub portal_id: Uuid,
    pub webhook_id: Uuid,
    pub replay_id: Uuid,
    pub after: Option<Uuid>,
}

/// The queue of replay steps (the delivery queue: the same worker runs them).
pub trait ReplayQueue: Send + Sync {
    fn enqueue_replay(&self, message: &ReplayMessage) -> impl std::future::Future<Output = Result<(), BoxError>> + Send;
}

/// A message of the delivery queue: a delivery's attempt or a replay's step.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Queued {
    Replay(ReplayMessage),
    Delivery(DeliveryMessage),
}

/// The body of `POST .../replay`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayWindow {
    pub since: Option<String>,
    pub until: Option<String>,
}

/// `POST /api/portals/{portal_id}/webhooks/{webhook_id}/replay`: checks the window against the
/// portal's retention, stores the replay and queues its first step. Returns the replay's id.
#[tracing::instrument(skip_all, fields(portal_id = %portal_id, webhook_id = %webhook_id))]
pub async fn start<S: PortalStore + WebhookStore + ReplayStore, Q: ReplayQueue>(
    store: &S,
    queue: &Q,
    token: &AdminToken,
    portal_id: Uuid,
    webhook_id: Uuid,
    body: ReplayWindow,
    now: Timestamp,
) -> Result<Uuid, AppError> {
    let mut f = Fields::default();
    let mut time = |name: &'static str, raw: &Option<String>| match raw.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        None => {
            f.push(name, "is required (an RFC 3339 time)");
            None
        }
        Some(r) => f.check(name, parse_time(r)),
    };
    let (since, until) = (time("since", &body.since), time("until", &body.until));
    f.finish()?;
    let (since, until) = (since.expect("checked"), until.expect("checked"));
    let (portal, webhook) =
        tokio::try_join!(crate::access::portal_for(store, token, portal_id), crate::webhooks::get(store, token, portal_id, webhook_id))?;
    if let Err((field, why)) = check_window(since, until, portal.settings.audit_retention_days(), now) {
        return Err(AppError::field(field, why));
    }
    if !webhook.enabled {
        return Err(AppError::Conflict("the webhook is disabled; enable it to replay to it".into()));
    }
    let replay = Replay::new(Uuid::now_v7(), &webhook, since, until, now);
    store.create_replay(&replay).await?;
    let first = ReplayMessage { portal_id, webhook_id, replay_id: replay.id, after: None };
    queue.enqueue_replay(&first).await.map_err(|e| AppError::Unavailable(format!("the replay could not be queued: {e}")))?;
    Ok(replay.id)
}

/// What a replay step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stepped {
    /// A copy of a step already taken, a finished replay, or the endpoint is gone.
    Dropped,
    /// The page held no event the endpoint wants; the next step continues after it.
    Skipped,
    /// An event re-delivered (its attempt, or the message that will make it).
    Replayed(Handled),
    /// The window's end: nothing more to replay.
    Finished,
}

/// A new attempt cycle of the delivery of `event` to `webhook` (created if the endpoint never
/// had it). A concurrent attempt of the old cycle makes the write lose: read again and retry.
async fn restart_delivery<S: DeliveryStore>(store: &S, webhook: &Webhook, event: &LifecycleEvent, now: Timestamp) -> Result<(), BoxError> {
    for _ in 0..3 {
        match store.get_delivery(webhook.id, event.id).await? {
            None => {
                if store.create_delivery(&Delivery::new(webhook, event, now)).await? {
                    return Ok(());
                }
            }
            Some(mut d) => {
                d.restart(now);
                match store.update_delivery(&d).await {
                    Ok(()) => return Ok(()),
                    Err(StoreError::Conflict) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    Err("the delivery kept changing under the replay".into())
}

/// One step of a replay (a message of the delivery queue).
pub async fn step<S: WebhookStore + WebhookHealthStore + DeliveryStore + ReplayStore, Q: DeliveryQueue + ReplayQueue, H: WebhookSender>(
    store: &S,
    queue: &Q,
    sender: &H,
    rules: &DeliveryRules,
    message: &ReplayMessage,
    now: Timestamp,
) -> Result<Stepped, BoxError> {
    let (replay, webhook) = tokio::try_join!(
        store.get_replay(message.webhook_id, message.replay_id),
        store.get_webhook(message.portal_id, message.webhook_id)
    )?;
    let (Some(mut replay), Some(webhook)) = (replay, webhook) else {
        return Ok(Stepped::Dropped);
    };
    if replay.status != ReplayStatus::Running || replay.cursor != message.after {
        return Ok(Stepped::Dropped);
    }
    let page = store.feed_after(replay.portal_id, replay.since, replay.until, replay.cursor, REPLAY_PAGE).await?;
    let wanted = replay.advance(&page, page.len() == REPLAY_PAGE, now);
    match store.update_replay(&replay).await {
        Ok(()) => {}
        Err(StoreError::Conflict) => return Ok(Stepped::Dropped),
        Err(e) => return Err(e.into()),
    }
    let done = match wanted {
        Some(event) => {
            restart_delivery(store, &webhook, &event, now).await?;
            let delivery = DeliveryMessage { portal_id: webhook.portal_id, webhook_id: webhook.id, event_id: event.id };
            match attempt(store, queue, sender, rules, &delivery, now).await {
                Ok(handled) => Stepped::Replayed(handled),
                Err(e) => {
                    // The delivery is pending: the queue attempts it later.
                    tracing::warn!(error = %crate::error::error_chain(e.as_ref()), "replayed attempt failed; queued");
                    queue.enqueue(&delivery, 0).await?;
                    Stepped::Replayed(Handled::Waiting)
                }
            }
        }
        None if replay.status == ReplayStatus::Done => return Ok(Stepped::Finished),
        None => Stepped::Skipped,
    };
    queue.enqueue_replay(&ReplayMessage { after: replay.cursor, ..message.clone() }).await?;
    Ok(done)
}
