//! Webhook endpoints of the memory store, with the adapter's conditions.

use super::*;
use crate::domain::webhooks::Webhook;

impl WebhookStore for MemStore {
    async fn create_webhook(&self, w: &Webhook) -> StoreResult<()> {
        let _tx = self.tx();
        self.record("create webhook");
        if !lock(&self.portals).contains_key(&w.portal_id) {
            return Err(StoreError::NotFound);
        }
        lock(&self.webhooks).insert(w.id, w.clone());
        Ok(())
    }

    async fn get_webhook(&self, portal_id: Uuid, id: Uuid) -> StoreResult<Option<Webhook>> {
        self.record("get webhook");
        Ok(lock(&self.webhooks).get(&id).filter(|w| w.portal_id == portal_id).cloned())
    }

    async fn list_webhooks(&self, portal_id: Uuid) -> StoreResult<Vec<Webhook>> {
        self.record("query webhooks");
        let mut list: Vec<Webhook> = lock(&self.webhooks).values().filter(|w| w.portal_id == portal_id).cloned().collect();
        list.sort_by_key(|w| w.id);
        Ok(list)
    }

    async fn update_webhook(&self, w: &Webhook) -> StoreResult<()> {
        let _tx = self.tx();
        self.record("update webhook");
        match lock(&self.webhooks).get_mut(&w.id) {
            Some(stored) if stored.portal_id == w.portal_id && stored.version + 1 == w.version => {
                *stored = w.clone();
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }

    async fn delete_webhook(&self, portal_id: Uuid, id: Uuid) -> StoreResult<()> {
        let _tx = self.tx();
        self.record("delete webhook");
        let mut all = lock(&self.webhooks);
        match all.get(&id) {
            Some(w) if w.portal_id == portal_id => {
                all.remove(&id);
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }
}

impl DeliveryStore for MemStore {
    async fn create_delivery(&self, d: &crate::domain::delivery::Delivery) -> StoreResult<bool> {
        let _tx = self.tx();
        self.record("create delivery");
        let mut all = lock(&self.deliveries);
        if all.contains_key(&(d.webhook_id, d.event_id)) {
            return Ok(false);
        }
        all.insert((d.webhook_id, d.event_id), d.clone());
        Ok(true)
    }

    async fn get_delivery(&self, webhook_id: Uuid, event_id: Uuid) -> StoreResult<Option<crate::domain::delivery::Delivery>> {
        self.record("get delivery");
        Ok(lock(&self.deliveries).get(&(webhook_id, event_id)).cloned())
    }

    async fn update_delivery(&self, d: &crate::domain::delivery::Delivery) -> StoreResult<()> {
        let _tx = self.tx();
        self.record("update delivery");
        match lock(&self.deliveries).get_mut(&(d.webhook_id, d.event_id)) {
            Some(stored) if stored.version + 1 == d.version => {
                *stored = d.clone();
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }

    async fn older_pending(
        &self,
        webhook_id: Uuid,
        developer_id: Uuid,
        event_id: Uuid,
    ) -> StoreResult<Vec<crate::domain::delivery::Delivery>> {
        self.record("query pending chain");
        let mut older: Vec<_> = lock(&self.deliveries)
            .values()
            .filter(|d| {
                d.webhook_id == webhook_id
                    && d.developer_id == Some(developer_id)
                    && d.event_id < event_id
                    && d.status == crate::domain::delivery::DeliveryStatus::Pending
            })
            .cloned()
            .collect();
        older.sort_by_key(|d| d.event_id);
        Ok(older)
    }

    async fn get_event(&self, event_id: Uuid) -> StoreResult<Option<LifecycleEvent>> {
        self.record("get event");
        Ok(lock(&self.events).iter().find(|e| e.id == event_id).cloned())
    }
}

impl WebhookHealthStore for MemStore {
    async fn set_failing_since(&self, portal_id: Uuid, webhook_id: Uuid, since: Option<crate::domain::Timestamp>) -> StoreResult<()> {
        let _tx = self.tx();
        self.record("update webhook health");
        if let Some(w) = lock(&self.webhooks).get_mut(&webhook_id).filter(|w| w.portal_id == portal_id) {
            match since {
                Some(t) if w.failing_since.is_none() => w.failing_since = Some(t),
                None => w.failing_since = None,
                Some(_) => {}
            }
        }
        Ok(())
    }

    async fn disable_webhook(&self, w: &Webhook, event: &LifecycleEvent) -> StoreResult<bool> {
        let _tx = self.tx();
        self.record("disable webhook");
        match lock(&self.webhooks).get_mut(&w.id) {
            Some(stored) if stored.portal_id == w.portal_id && stored.version + 1 == w.version => {
                *stored = w.clone();
                lock(&self.events).push(event.clone());
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

/// The delivery queue in memory: every message with its delay, in order (replay steps apart).
#[derive(Default)]
pub struct FakeQueue {
    pub sent: Mutex<Vec<(crate::delivery::DeliveryMessage, u64)>>,
    pub replays: Mutex<Vec<crate::replay::ReplayMessage>>,
}

impl crate::replay::ReplayQueue for FakeQueue {
    async fn enqueue_replay(&self, message: &crate::replay::ReplayMessage) -> Result<(), BoxError> {
        lock(&self.replays).push(message.clone());
        Ok(())
    }
}

impl DeliveryLog for MemStore {
    async fn list_deliveries(&self, q: &DeliveryQuery) -> StoreResult<Page<crate::domain::delivery::Delivery>> {
        self.record("query deliveries");
        let mut list: Vec<_> = lock(&self.deliveries)
            .values()
            .filter(|d| d.webhook_id == q.webhook_id && q.status.is_none_or(|s| d.status == s))
            .cloned()
            .collect();
        list.sort_by_key(|d| std::cmp::Reverse(d.event_id));
        let after = match q.cursor.as_deref() {
            None => None,
            Some(c) => Some(c.parse::<Uuid>().map_err(|_| StoreError::BadCursor)?),
        };
        let mut items: Vec<_> = list.into_iter().filter(|d| after.is_none_or(|a| d.event_id < a)).collect();
        let limit = q.limit.clamp(1, 100);
        let next_cursor = (items.len() > limit).then(|| items[limit - 1].event_id.to_string());
        items.truncate(limit);
        Ok(Page { items, total: None, next_cursor })
    }
}

impl ReplayStore for MemStore {
    async fn create_replay(&self, r: &crate::domain::replay::Replay) -> StoreResult<()> {
        let _tx = self.tx();
        self.record("create replay");
        let mut all = lock(&self.replays);
        if all.contains_key(&(r.webhook_id, r.id)) {
            return Err(StoreError::Conflict);
        }
        all.insert((r.webhook_id, r.id), r.clone());
        Ok(())
    }

    async fn get_replay(&self, webhook_id: Uuid, id: Uuid) -> StoreResult<Option<crate::domain::replay::Replay>> {
        self.record("get replay");
        Ok(lock(&self.replays).get(&(webhook_id, id)).cloned())
    }

    async fn update_replay(&self, r: &crate::domain::replay::Replay) -> StoreResult<()> {
        let _tx = self.tx();
        self.record("update replay");
        match lock(&self.replays).get_mut(&(r.webhook_id, r.id)) {
            Some(stored) if stored.version + 1 == r.version => {
                *stored = r.clone();
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }

    async fn feed_after(
        &self,
        portal_id: Uuid,
        since: Timestamp,
        until: Timestamp,
        after: Option<Uuid>,
        limit: usize,
    ) -> StoreResult<Vec<LifecycleEvent>> {
        self.record("query feed");
        let mut list: Vec<LifecycleEvent> = lock(&self.events)
            .iter()
            .filter(|e| e.portal_id == portal_id && e.at >= since && e.at <= until && after.is_none_or(|a| e.id > a))
            .cloned()
            .collect();
        list.sort_by_key(|e| e.id);
        list.truncate(limit.max(1));
        Ok(list)
    }
}

impl crate::delivery::DeliveryQueue for FakeQueue {
    async fn enqueue(&self, message: &crate::delivery::DeliveryMessage, delay_seconds: u64) -> Result<(), BoxError> {
        lock(&self.sent).push((message.clone(), delay_seconds));
        Ok(())
    }
}

/// A request a fake receiver got: url, headers, body.
pub type Received = (String, Vec<(&'static str, String)>, String);

/// A receiver in memory: answers the scripted outcomes in order (then 200) and keeps every
/// request (url, headers, body).
#[derive(Default)]
pub struct FakeSender {
    pub script: Mutex<std::collections::VecDeque<crate::domain::delivery::Outcome>>,
    pub received: Mutex<Vec<Received>>,
}

impl crate::delivery::WebhookSender for FakeSender {
    async fn post(&self, url: &str, headers: &[(&'static str, String)], body: &str) -> crate::domain::delivery::Outcome {
        lock(&self.received).push((url.to_string(), headers.to_vec(), body.to_string()));
        lock(&self.script).pop_front().unwrap_or(crate::domain::delivery::Outcome::Delivered { status: 200 })
    }
}
