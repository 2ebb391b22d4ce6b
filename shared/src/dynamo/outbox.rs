//! The event log (the outbox the stream consumer reads) and the exactly-once mail markers.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use uuid::Uuid;

use super::attr::{classify, conflict_is, from_item, key, millis, n, s, to_item, Expr};
use super::models::{encode, mail_status, EventItem, MailFailureItem, MailMarkerItem, Model};
use super::tx::{Label, Tx, TxError};
use super::{keys, Dynamo};
use crate::domain::{LifecycleEvent, Timestamp};
use crate::store::{EventLog, MailClaim, MailLedger, StoreError, StoreResult};

/// The event an item holds (a stream image of an item of kind [`super::KIND_EVENT`]).
pub fn decode_event(image: serde_dynamo::Item) -> Result<LifecycleEvent, serde_dynamo::Error> {
    serde_dynamo::from_item::<_, EventItem>(image).map(EventItem::into_domain)
}

impl EventLog for Dynamo {
    async fn record_event(&self, event: &LifecycleEvent, dedupe: bool) -> StoreResult<bool> {
        let mut req = self.client.put_item().table_name(&self.table).set_item(Some(encode::<EventItem>(event)?));
        if dedupe {
            req = req.condition_expression("attribute_not_exists(pk)");
        }
        match req.send().await.map_err(classify) {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict) if dedupe => Ok(false),
            Err(e) => Err(e),
        }
    }
}

fn marker_key(event_id: Uuid, mail: &str) -> HashMap<String, AttributeValue> {
    key(keys::event(event_id), &keys::mail(mail))
}

impl Dynamo {
    /// The update that records a claimed mail as failed (only while it is still ours).
    fn fail_marker(&self, tx: &mut Tx<'_>, event_id: Uuid, mail: &str, reason: &str, now: Timestamp) -> StoreResult<()> {
        let update = Expr::new("SET #status = :failed, #error = :e, failed_at = :at REMOVE lease_until")
            .name("#status", "status")
            .name("#error", "error")
            .value(":failed", s(mail_status::FAILED))
            .value(":sending", s(mail_status::SENDING))
            .value(":e", s(reason))
            .value(":at", millis(now));
        tx.update(Label::MailMarker, marker_key(event_id, mail), update, Some("#status = :sending"))?;
        Ok(())
    }
}

impl MailLedger for Dynamo {
    async fn claim_mail(&self, event_id: Uuid, mail: &str, now: Timestamp, lease_seconds: i64) -> StoreResult<MailClaim> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&MailMarkerItem::claim(event_id, mail, now, lease_seconds))?))
            .condition_expression("attribute_not_exists(pk) OR (#status = :sending AND lease_until < :now)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":sending", s(mail_status::SENDING))
            .expression_attribute_values(":now", n(now.timestamp()))
            .send()
            .await
            .map_err(classify);
        match result {
            Ok(_) => Ok(MailClaim::Acquired),
            Err(StoreError::Conflict) => {
                let existing = self.get(marker_key(event_id, mail)).await?;
                let status = existing.and_then(|i| from_item::<MailMarkerItem>(i).ok()).map(|m| m.status);
                match status.as_deref() {
                    Some(mail_status::SENT) => Ok(MailClaim::AlreadySent),
                    Some(mail_status::FAILED) => Ok(MailClaim::Failed),
                    _ => Ok(MailClaim::InFlight),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn complete_mail(&self, event_id: Uuid, mail: &str, message_id: &str, now: Timestamp) -> StoreResult<()> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(marker_key(event_id, mail)))
            .update_expression("SET #status = :sent, message_id = :m, sent_at = :at REMOVE lease_until")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":sent", s(mail_status::SENT))
            .expression_attribute_values(":m", s(message_id))
            .expression_attribute_values(":at", millis(now))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn release_mail(&self, event_id: Uuid, mail: &str) -> StoreResult<()> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(marker_key(event_id, mail)))
            .condition_expression("#status = :sending")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":sending", s(mail_status::SENDING))
            .send()
            .await
            .map_err(classify)
            .map(|_| ());
        // Not ours any more (recorded meanwhile): nothing to give back.
        conflict_is(result, ())
    }

    async fn fail_mail(&self, event_id: Uuid, mail: &str, reason: &str, now: Timestamp) -> StoreResult<()> {
        let mut tx = Tx::new(self);
        self.fail_marker(&mut tx, event_id, mail, reason, now)?;
        let failure =
            MailFailureItem { mail: mail.into(), error: reason.into(), at: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true) };
        let failure: AttributeValue = serde_dynamo::to_attribute_value(failure).map_err(super::attr::other)?;
        let append = Expr::new("SET mail_failures = list_append(if_not_exists(mail_failures, :none), :f)")
            .value(":none", AttributeValue::L(vec![]))
            .value(":f", AttributeValue::L(vec![failure]));
        tx.update(Label::Event, key(keys::event(event_id), keys::EVENT_SK), append, Some("attribute_exists(pk)"))?;
        match tx.send(self).await {
            Ok(()) => Ok(()),
            // The claim is no longer ours (recorded meanwhile): nothing to add.
            Err(TxError::Cancelled(c)) if c.failed(Label::MailMarker) => Ok(()),
            // An event that is not in the table (a record replayed from elsewhere): the marker alone.
            Err(TxError::Cancelled(c)) if c.failed(Label::Event) => {
                let mut alone = Tx::new(self);
                self.fail_marker(&mut alone, event_id, mail, reason, now)?;
                conflict_is(alone.commit(self).await, ())
            }
            Err(TxError::Cancelled(c)) => Err(c.unavailable()),
            Err(TxError::Store(e)) => Err(e),
        }
    }
}
