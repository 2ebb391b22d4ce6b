//! Webhook deliveries: one item per (endpoint, event) in the endpoint's partition
//! (`WEBHOOK#<webhook>` / `DELIVERY#<event id>`), written by single conditional `PutItem`s
//! (create once, then versioned replaces), kept as long as events are by default (TTL).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::attr::{classify, conflict_is, key, n, s, to_item};
use super::models::{decode, EventItem, Model};
use super::ops::Query;
use super::{keys, read_version, Dynamo};
use crate::domain::delivery::{Delivery, DeliveryStatus};
use crate::domain::{EventType, LifecycleEvent, Timestamp, EVENT_RETENTION_DAYS};
use crate::store::{DeliveryStore, StoreResult};

const DAY: i64 = 86_400;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct DeliveryItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub ttl: i64,
    pub portal_id: Uuid,
    pub webhook_id: Uuid,
    pub event_id: Uuid,
    /// The developer the event is about (none: the delivery is unordered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub developer_id: Option<Uuid>,
    /// While pending and about a developer: [`keys::pending_chain`] / [`keys::delivery`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi1pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi1sk: Option<String>,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub last_status_code: Option<u16>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<Timestamp>,
    pub delivered_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub version: u64,
}

impl Model for DeliveryItem {
    type Domain = Delivery;

    fn from_domain(d: &Delivery) -> Self {
        Self {
            pk: keys::webhook(d.webhook_id),
            sk: keys::delivery(d.event_id),
            kind: keys::kind::DELIVERY.into(),
            ttl: d.created_at.timestamp() + EVENT_RETENTION_DAYS * DAY,
            portal_id: d.portal_id,
            webhook_id: d.webhook_id,
            event_id: d.event_id,
            developer_id: d.developer_id,
            gsi1pk: d.developer_id.filter(|_| d.status == DeliveryStatus::Pending).map(|dev| keys::pending_chain(d.webhook_id, dev)),
            gsi1sk: d.developer_id.filter(|_| d.status == DeliveryStatus::Pending).map(|_| keys::delivery(d.event_id)),
            event_type: d.event_type,
            status: d.status,
            attempts: d.attempts,
            last_status_code: d.last_status_code,
            last_error: d.last_error.clone(),
            next_attempt_at: d.next_attempt_at,
            delivered_at: d.delivered_at,
            created_at: d.created_at,
            version: d.version,
        }
    }

    fn into_domain(self) -> Delivery {
        Delivery {
            portal_id: self.portal_id,
            webhook_id: self.webhook_id,
            event_id: self.event_id,
            developer_id: self.developer_id,
            event_type: self.event_type,
            status: self.status,
            attempts: self.attempts,
            last_status_code: self.last_status_code,
            last_error: self.last_error,
            next_attempt_at: self.next_attempt_at,
            delivered_at: self.delivered_at,
            created_at: self.created_at,
            version: self.version,
        }
    }
}

impl DeliveryStore for Dynamo {
    /// One `PutItem` [`attribute_not_exists(pk)`]; a failed condition is a replay (`false`).
    async fn create_delivery(&self, d: &Delivery) -> StoreResult<bool> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&DeliveryItem::from_domain(d))?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map(|_| true)
            .map_err(classify);
        conflict_is(result, false)
    }

    async fn get_delivery(&self, webhook_id: Uuid, event_id: Uuid) -> StoreResult<Option<Delivery>> {
        self.get_as::<DeliveryItem>(key(keys::webhook(webhook_id), &keys::delivery(event_id))).await
    }

    /// One `PutItem` [`version = :v`]; a lost race is a `Conflict`.
    async fn update_delivery(&self, d: &Delivery) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&DeliveryItem::from_domain(d))?))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(read_version(d.version) as i64))
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }

    /// One `Query` of gsi1 (`gsi1pk = :chain AND gsi1sk < :mine`, oldest first, one page of
    /// at most 25): the sparse index holds only pending deliveries about a developer.
    async fn older_pending(&self, webhook_id: Uuid, developer_id: Uuid, event_id: Uuid) -> StoreResult<Vec<Delivery>> {
        let values = vec![(":p", s(keys::pending_chain(webhook_id, developer_id))), (":s", s(keys::delivery(event_id)))];
        let items = self.query(&Query::new(Some("gsi1"), "gsi1pk = :p AND gsi1sk < :s", values), None, Some(25)).await?;
        items.into_iter().map(decode::<DeliveryItem>).collect()
    }

    async fn get_event(&self, event_id: Uuid) -> StoreResult<Option<LifecycleEvent>> {
        self.get_as::<EventItem>(key(keys::event(event_id), keys::EVENT_SK)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamo::attr::from_item;
    use chrono::{TimeZone, Utc};

    fn delivery() -> Delivery {
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
        Delivery {
            portal_id: Uuid::now_v7(),
            webhook_id: Uuid::now_v7(),
            event_id: Uuid::now_v7(),
            developer_id: Some(Uuid::now_v7()),
            event_type: EventType::Registered,
            status: DeliveryStatus::Pending,
            attempts: 2,
            last_status_code: Some(503),
            last_error: Some("down".into()),
            next_attempt_at: Some(at + chrono::Duration::seconds(30)),
            delivered_at: None,
            created_at: at,
            version: 3,
        }
    }

    #[test]
    fn a_delivery_lives_in_its_endpoints_partition_and_reads_back_as_it_was_written() {
        let d = delivery();
        let item = to_item(&DeliveryItem::from_domain(&d)).unwrap();
        let stored: DeliveryItem = from_item(item).unwrap();
        assert_eq!(stored.pk, format!("WEBHOOK#{}", d.webhook_id));
        assert_eq!(stored.sk, format!("DELIVERY#{}", d.event_id));
        assert_eq!(stored.kind, "delivery");
        assert_eq!(stored.ttl, d.created_at.timestamp() + EVENT_RETENTION_DAYS * DAY, "kept as long as an event by default");
        assert_eq!(stored.gsi1pk, Some(format!("WEBHOOK#{}#DEV#{}#PENDING", d.webhook_id, d.developer_id.unwrap())));
        assert_eq!(stored.gsi1sk.as_deref(), Some(stored.sk.as_str()));
        assert_eq!(stored.clone().into_domain(), d);
    }

    #[test]
    fn a_finished_delivery_or_one_about_no_developer_leaves_the_pending_chain_index() {
        let mut done = delivery();
        done.status = DeliveryStatus::Succeeded;
        let mut unordered = delivery();
        unordered.developer_id = None;
        for d in [done, unordered] {
            let item = to_item(&DeliveryItem::from_domain(&d)).unwrap();
            assert!(!item.contains_key("gsi1pk") && !item.contains_key("gsi1sk"), "{item:?}");
        }
    }
}
