//! Storage ports: webhook endpoints, their health, deliveries and the delivery log.

use std::future::Future;

use uuid::Uuid;

use crate::domain::{LifecycleEvent, Timestamp};

use super::*;

/// Webhook endpoints of a portal (items under the portal's partition).
pub trait WebhookStore: Send + Sync {
    /// Stores a new endpoint if its portal exists (else [`StoreError::NotFound`]).
    fn create_webhook(&self, webhook: &crate::domain::webhooks::Webhook) -> impl Future<Output = StoreResult<()>> + Send;
    fn get_webhook(&self, portal_id: Uuid, id: Uuid) -> impl Future<Output = StoreResult<Option<crate::domain::webhooks::Webhook>>> + Send;
    /// A portal's endpoints, oldest first (a portal has at most a few dozen).
    fn list_webhooks(&self, portal_id: Uuid) -> impl Future<Output = StoreResult<Vec<crate::domain::webhooks::Webhook>>> + Send;
    /// Replaces the endpoint if its stored version is still `webhook.version - 1`.
    fn update_webhook(&self, webhook: &crate::domain::webhooks::Webhook) -> impl Future<Output = StoreResult<()>> + Send;
    /// Deletes the endpoint if it still exists ([`StoreError::Conflict`] otherwise).
    fn delete_webhook(&self, portal_id: Uuid, id: Uuid) -> impl Future<Output = StoreResult<()>> + Send;
}

/// The health of webhook endpoints, as the delivery worker keeps it.
pub trait WebhookHealthStore: Send + Sync {
    /// Starts the failing clock (`Some`, only if not already running) or stops it (`None`);
    /// neither changes the endpoint's version.
    fn set_failing_since(
        &self,
        portal_id: Uuid,
        webhook_id: Uuid,
        since: Option<crate::domain::Timestamp>,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Writes the disabled endpoint (stored version still `webhook.version - 1`) and its
    /// `webhook.disabled` event together; `false` (nothing written) when the endpoint changed
    /// meanwhile.
    fn disable_webhook(
        &self,
        webhook: &crate::domain::webhooks::Webhook,
        event: &LifecycleEvent,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
}

/// Webhook deliveries, one per (endpoint, event), and the events they carry.
pub trait DeliveryStore: Send + Sync {
    /// Stores a new delivery; `false` (and nothing written) when it exists already, e.g. for
    /// a stream record seen twice.
    fn create_delivery(&self, delivery: &crate::domain::delivery::Delivery) -> impl Future<Output = StoreResult<bool>> + Send;
    fn get_delivery(
        &self,
        webhook_id: Uuid,
        event_id: Uuid,
    ) -> impl Future<Output = StoreResult<Option<crate::domain::delivery::Delivery>>> + Send;
    /// Replaces the delivery if its stored version is still `delivery.version - 1`.
    fn update_delivery(&self, delivery: &crate::domain::delivery::Delivery) -> impl Future<Output = StoreResult<()>> + Send;
    /// The pending deliveries to `webhook_id` about `developer_id` of events older than
    /// `event_id`, oldest first (at most a page).
    fn older_pending(
        &self,
        webhook_id: Uuid,
        developer_id: Uuid,
        event_id: Uuid,
    ) -> impl Future<Output = StoreResult<Vec<crate::domain::delivery::Delivery>>> + Send;
    /// An event still kept.
    fn get_event(&self, event_id: Uuid) -> impl Future<Output = StoreResult<Option<LifecycleEvent>>> + Send;
}

/// A page of an endpoint's deliveries, newest first, optionally of one status.
#[derive(Debug, Clone)]
pub struct DeliveryQuery {
    pub webhook_id: Uuid,
    pub status: Option<crate::domain::delivery::DeliveryStatus>,
    pub limit: usize,
    pub cursor: Option<String>,
}

/// The deliveries list (a `Query` of the endpoint's partition, no index).
pub trait DeliveryLog: Send + Sync {
    fn list_deliveries(&self, query: &DeliveryQuery) -> impl Future<Output = StoreResult<Page<crate::domain::delivery::Delivery>>> + Send;
}

/// Replays of an endpoint (items in its partition) and the portal's event feed they walk.
pub trait ReplayStore: Send + Sync {
    /// Stores a new replay (`attribute_not_exists(pk)`).
    fn create_replay(&self, replay: &crate::domain::replay::Replay) -> impl Future<Output = StoreResult<()>> + Send;
    fn get_replay(&self, webhook_id: Uuid, id: Uuid) -> impl Future<Output = StoreResult<Option<crate::domain::replay::Replay>>> + Send;
    /// Replaces the replay if its stored version is still `replay.version - 1`
    /// ([`StoreError::Conflict`] otherwise: another copy of the step took it).
    fn update_replay(&self, replay: &crate::domain::replay::Replay) -> impl Future<Output = StoreResult<()>> + Send;
    /// Up to `limit` kept events of the portal in `[since, until]`, oldest first, after the
    /// event `after` (the portal's feed, gsi2).
    fn feed_after(
        &self,
        portal_id: Uuid,
        since: Timestamp,
        until: Timestamp,
        after: Option<Uuid>,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Vec<LifecycleEvent>>> + Send;
}
