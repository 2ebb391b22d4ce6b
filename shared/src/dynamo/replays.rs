//! The deliveries list (a newest-first `Query` of the endpoint's partition, the status a
//! filter), replays (one item each in the endpoint's partition, `WEBHOOK#<webhook>` /
//! `REPLAY#<id>`, versioned single `PutItem`s) and the portal's event feed a replay walks
//! (gsi2, oldest first, from the cursor).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::attr::{classify, key, n, s, to_item, Item};
use super::cursor::{fingerprint, page_of, start_key, KeyShape};
use super::deliveries::DeliveryItem;
use super::models::{decode, EventItem, Model};
use super::ops::{Query, QueryFilter};
use super::{keys, read_version, Dynamo};
use crate::domain::audit::{id_ceiling, id_floor};
use crate::domain::delivery::Delivery;
use crate::domain::replay::{Replay, ReplayStatus};
use crate::domain::{LifecycleEvent, Timestamp};
use crate::store::{DeliveryLog, DeliveryQuery, Page, ReplayStore, StoreResult};

/// A finished replay is kept this long (its deliveries live on in their own items).
const REPLAY_KEPT_DAYS: i64 = 7;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ReplayItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub ttl: i64,
    pub id: Uuid,
    pub portal_id: Uuid,
    pub webhook_id: Uuid,
    pub since: Timestamp,
    pub until: Timestamp,
    pub events: Vec<String>,
    pub cursor: Option<Uuid>,
    pub status: ReplayStatus,
    pub replayed: u32,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: u64,
}

impl Model for ReplayItem {
    type Domain = Replay;

    fn from_domain(r: &Replay) -> Self {
        Self {
            pk: keys::webhook(r.webhook_id),
            sk: keys::replay(r.id),
            kind: keys::kind::REPLAY.into(),
            ttl: r.updated_at.timestamp() + REPLAY_KEPT_DAYS * 86_400,
            id: r.id,
            portal_id: r.portal_id,
            webhook_id: r.webhook_id,
            since: r.since,
            until: r.until,
            events: r.events.clone(),
            cursor: r.cursor,
            status: r.status,
            replayed: r.replayed,
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: r.version,
        }
    }

    fn into_domain(self) -> Replay {
        Replay {
            id: self.id,
            portal_id: self.portal_id,
            webhook_id: self.webhook_id,
            since: self.since,
            until: self.until,
            events: self.events,
            cursor: self.cursor,
            status: self.status,
            replayed: self.replayed,
            created_at: self.created_at,
            updated_at: self.updated_at,
            version: self.version,
        }
    }
}

impl DeliveryLog for Dynamo {
    /// `Query` `pk = WEBHOOK#<w> AND begins_with(sk, DELIVERY#)`, newest first, `Limit`
    /// limit+1; a status is a `FilterExpression` (more calls only while it leaves the page short).
    async fn list_deliveries(&self, q: &DeliveryQuery) -> StoreResult<Page<Delivery>> {
        let limit = q.limit.clamp(1, 100);
        let part = keys::webhook(q.webhook_id);
        let values = vec![(":pk", s(part.as_str())), (":d", s(keys::DELIVERY_PREFIX))];
        let status = q.status.map(|st| serde_json::to_value(st).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default());
        let filter: Option<QueryFilter<'_>> =
            status.as_ref().map(|st| ("#status = :st", vec![(":st", s(st.as_str()))], vec![("#status", "status")]));
        let query = Query::new(None, "pk = :pk AND begins_with(sk, :d)", values).filter(filter).newest_first();
        let f = fingerprint(&["deliveries", &part, status.as_deref().unwrap_or_default()]);
        let shape = KeyShape::table(&part);
        let start = start_key(q.cursor.as_deref(), &f, &shape)?;
        let items = self.query(&query, start, Some(limit + 1)).await?;
        page_of::<DeliveryItem>(items, limit, f, &shape.attrs, None)
    }
}

impl ReplayStore for Dynamo {
    async fn create_replay(&self, r: &Replay) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&ReplayItem::from_domain(r))?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }

    async fn get_replay(&self, webhook_id: Uuid, id: Uuid) -> StoreResult<Option<Replay>> {
        self.get_as::<ReplayItem>(key(keys::webhook(webhook_id), &keys::replay(id))).await
    }

    /// One `PutItem` [`version = :v`]; a lost race is a `Conflict`.
    async fn update_replay(&self, r: &Replay) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&ReplayItem::from_domain(r))?))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(read_version(r.version) as i64))
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }

    /// One `Query` of gsi2 `gsi2pk = PORTAL#<p>#EVENTS AND gsi2sk BETWEEN <since> AND <until>`,
    /// oldest first, `Limit` limit, from the cursor's event (its full key is known: the
    /// event item's keys are derived from its id).
    async fn feed_after(
        &self,
        portal_id: Uuid,
        since: Timestamp,
        until: Timestamp,
        after: Option<Uuid>,
        limit: usize,
    ) -> StoreResult<Vec<LifecycleEvent>> {
        let part = keys::portal_events(portal_id);
        let values = vec![(":p", s(part.as_str())), (":lo", s(id_floor(since))), (":hi", s(id_ceiling(until)))];
        let query = Query::new(Some("gsi2"), "gsi2pk = :p AND gsi2sk BETWEEN :lo AND :hi", values);
        let start: Option<Item> = after.map(|id| {
            Item::from([
                ("pk".to_string(), s(keys::event(id))),
                ("sk".to_string(), s(keys::EVENT_SK)),
                ("gsi2pk".to_string(), s(part.as_str())),
                ("gsi2sk".to_string(), s(id.to_string())),
            ])
        });
        let items = self.query(&query, start, Some(limit.max(1))).await?;
        items.into_iter().take(limit.max(1)).map(decode::<EventItem>).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamo::attr::from_item;
    use chrono::{TimeZone, Utc};

    #[test]
    fn a_replay_lives_in_its_endpoints_partition_and_reads_back_as_it_was_written() {
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
        let r = Replay {
            id: Uuid::now_v7(),
            portal_id: Uuid::now_v7(),
            webhook_id: Uuid::now_v7(),
            since: at - chrono::Duration::hours(1),
            until: at,
            events: vec!["developer.*".into()],
            cursor: Some(Uuid::now_v7()),
            status: ReplayStatus::Running,
            replayed: 3,
            created_at: at,
            updated_at: at,
            version: 4,
        };
        let stored: ReplayItem = from_item(to_item(&ReplayItem::from_domain(&r)).unwrap()).unwrap();
        assert_eq!((stored.pk.as_str(), stored.kind.as_str()), (keys::webhook(r.webhook_id).as_str(), "replay"));
        assert_eq!(stored.sk, format!("REPLAY#{}", r.id));
        assert_eq!(stored.into_domain(), r);
    }
}
