//! The audit trail: pages of event items from one of three sparse partitions of the same
//! items, newest first (`ScanIndexForward = false`); ids are UUIDv7, so a time window is a
//! sort-key range. No Scan: the developer's history (gsi1), a type family (gsi3) or the whole
//! portal (gsi2); an exact type and the actor are filter expressions within it.

use super::attr::s;
use super::cursor::{fingerprint, page_of, start_key, KeyShape};
use super::models::EventItem;
use super::ops::{Query, QueryFilter};
use super::{keys, Dynamo};
use crate::domain::audit::{id_ceiling, id_floor, ActorFilter, ANONYMOUS};
use crate::domain::LifecycleEvent;
use crate::store::{AuditLog, EventQuery, Page, StoreResult};

/// The index, its key attributes and the partition a query reads.
fn partition(q: &EventQuery) -> (&'static str, &'static str, &'static str, String) {
    match (q.developer_id, &q.types) {
        (Some(dev), _) => ("gsi1", "gsi1pk", "gsi1sk", keys::developer_events(q.portal_id, dev)),
        (None, Some(t)) => ("gsi3", "gsi3pk", "gsi3sk", keys::family_events(q.portal_id, &t.family())),
        (None, None) => ("gsi2", "gsi2pk", "gsi2sk", keys::portal_events(q.portal_id)),
    }
}

impl AuditLog for Dynamo {
    async fn list_events(&self, q: &EventQuery) -> StoreResult<Page<LifecycleEvent>> {
        let limit = q.limit.clamp(1, 100);
        let (index, pk_attr, sk_attr, part) = partition(q);
        let mut condition = format!("{pk_attr} = :p");
        let mut values = vec![(":p", s(part.as_str()))];
        match (q.since, q.until) {
            (Some(a), Some(b)) => {
                condition.push_str(&format!(" AND {sk_attr} BETWEEN :lo AND :hi"));
                values.extend([(":lo", s(id_floor(a))), (":hi", s(id_ceiling(b)))]);
            }
            (Some(a), None) => {
                condition.push_str(&format!(" AND {sk_attr} >= :lo"));
                values.push((":lo", s(id_floor(a))));
            }
            (None, Some(b)) => {
                condition.push_str(&format!(" AND {sk_attr} <= :hi"));
                values.push((":hi", s(id_ceiling(b))));
            }
            (None, None) => {}
        }
        // Within the partition: the exact type (or, in a developer's history, the family),
        // and the actor.
        let mut filters: Vec<&str> = Vec::new();
        let mut fvalues = Vec::new();
        let mut names = Vec::new();
        if let Some(t) = &q.types {
            names.push(("#type", "type"));
            match (t.exact(), q.developer_id) {
                (Some(exact), _) => {
                    filters.push("#type = :t");
                    fvalues.push((":t", s(exact.name())));
                }
                (None, Some(_)) => {
                    filters.push("begins_with(#type, :t)");
                    fvalues.push((":t", s(format!("{}.", t.family()))));
                }
                (None, None) => names.clear(),
            }
        }
        if let Some(a) = &q.actor {
            filters.push(match a {
                _ if a.takes_anonymous() => "(begins_with(actor, :a) OR actor = :anon)",
                ActorFilter::Kind(_) => "begins_with(actor, :a)",
                ActorFilter::Exact(_) => "actor = :a",
            });
            fvalues.push((":a", s(a.stored())));
            if a.takes_anonymous() {
                fvalues.push((":anon", s(ANONYMOUS)));
            }
        }
        let expr = filters.join(" AND ");
        let filter: Option<QueryFilter<'_>> = (!filters.is_empty()).then_some((expr.as_str(), fvalues, names));
        let query = Query::new(Some(index), &condition, values).filter(filter).newest_first();
        let types = q.types.as_ref().map(|t| format!("{t:?}")).unwrap_or_default();
        let actor = q.actor.as_ref().map(ActorFilter::stored).unwrap_or_default();
        let window = format!("{:?}|{:?}", q.since.map(|t| t.timestamp_millis()), q.until.map(|t| t.timestamp_millis()));
        let f = fingerprint(&["events", &q.portal_id.to_string(), &part, &types, &actor, &window]);
        let shape = KeyShape::index(pk_attr, sk_attr, &part);
        let start = start_key(q.cursor.as_deref(), &f, &shape)?;
        let items = self.query(&query, start, Some(limit + 1)).await?;
        page_of::<EventItem>(items, limit, f, &shape.attrs, None)
    }
}

impl Dynamo {
    /// Gives events written before the audit trail's index keys those keys (an operator's
    /// one-off, `gatehouse-ops backfill-audit-index`: a Scan, never on a request path). Each
    /// update is conditional on the keys still missing, so a rerun or a concurrent run is
    /// harmless; the stream sees `MODIFY` records, which the consumer's filter (`INSERT`s)
    /// ignores, so no mail is sent again. Returns how many events it updated.
    pub async fn backfill_event_index(&self) -> StoreResult<u64> {
        use super::attr::{classify, conflict_is};
        use super::models::{decode, Model};
        let mut updated = 0u64;
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("kind = :event AND attribute_not_exists(gsi2pk)")
                .expression_attribute_values(":event", s(keys::kind::EVENT))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(classify)?;
            for item in page.items.unwrap_or_default() {
                let Some(pk) = item.get("pk").cloned() else { continue };
                let keyed = EventItem::from_domain(&decode::<EventItem>(item)?);
                let mut set = vec!["gsi2pk = :g2p", "gsi2sk = :g2s", "gsi3pk = :g3p", "gsi3sk = :g3s"];
                let mut req = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .key("pk", pk)
                    .key("sk", s(keys::EVENT_SK))
                    .condition_expression("attribute_exists(pk) AND attribute_not_exists(gsi2pk)")
                    .expression_attribute_values(":g2p", s(keyed.gsi2pk.unwrap_or_default()))
                    .expression_attribute_values(":g2s", s(keyed.gsi2sk.unwrap_or_default()))
                    .expression_attribute_values(":g3p", s(keyed.gsi3pk.unwrap_or_default()))
                    .expression_attribute_values(":g3s", s(keyed.gsi3sk.unwrap_or_default()));
                if let (Some(p), Some(k)) = (keyed.gsi1pk, keyed.gsi1sk) {
                    set.extend(["gsi1pk = :g1p", "gsi1sk = :g1s"]);
                    req = req.expression_attribute_values(":g1p", s(p)).expression_attribute_values(":g1s", s(k));
                }
                let result = req.update_expression(format!("SET {}", set.join(", "))).send().await.map_err(classify).map(|_| 1);
                updated += conflict_is(result, 0)?;
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(updated);
            }
        }
    }
}
