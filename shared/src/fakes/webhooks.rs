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
