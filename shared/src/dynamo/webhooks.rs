//! Webhook endpoints: one item each in its portal's collection (`PORTAL#<portal>` /
//! `WEBHOOK#<id>`), listed by a Query on that partition; versioned like every changed item.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::attr::{key, s, Expr};
use super::models::EventItem;
use super::models::{decode, encode, Model};
use super::ops::Query;
use super::tx::{Label, Tx};
use super::{keys, read_version, version_is, Dynamo};
use crate::domain::webhooks::Webhook;
use crate::domain::LifecycleEvent;
use crate::domain::Timestamp;
use crate::store::{StoreError, StoreResult, WebhookHealthStore, WebhookStore};

/// The stored endpoint (its secrets are needed to sign, so they are kept; never returned by
/// the API after the create and rotate answers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct WebhookItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub id: Uuid,
    pub portal_id: Uuid,
    pub url: String,
    pub events: Vec<String>,
    pub enabled: bool,
    pub description: Option<String>,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_until: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: u64,
}

impl Model for WebhookItem {
    type Domain = Webhook;

    fn from_domain(w: &Webhook) -> Self {
        Self {
            pk: keys::portal(w.portal_id),
            sk: keys::webhook(w.id),
            kind: keys::kind::WEBHOOK.into(),
            id: w.id,
            portal_id: w.portal_id,
            url: w.url.clone(),
            events: w.events.clone(),
            enabled: w.enabled,
            description: w.description.clone(),
            secret: w.secret.clone(),
            previous_secret: w.previous_secret.clone(),
            previous_until: w.previous_until,
            failing_since: w.failing_since,
            created_at: w.created_at,
            updated_at: w.updated_at,
            version: w.version,
        }
    }

    fn into_domain(self) -> Webhook {
        Webhook {
            id: self.id,
            portal_id: self.portal_id,
            url: self.url,
            events: self.events,
            enabled: self.enabled,
            description: self.description,
            secret: self.secret,
            previous_secret: self.previous_secret,
            previous_until: self.previous_until,
            failing_since: self.failing_since,
            created_at: self.created_at,
            updated_at: self.updated_at,
            version: self.version,
        }
    }
}

fn exists() -> Expr {
    Expr::new("attribute_exists(pk)")
}

impl WebhookStore for Dynamo {
    /// One transaction: the endpoint (if new) and a check that the portal exists.
    async fn create_webhook(&self, w: &Webhook) -> StoreResult<()> {
        let mut tx = Tx::new(self);
        tx.check(Label::Portal, key(keys::portal(w.portal_id), keys::PORTAL_SK), exists())?;
        tx.create(Label::Webhook, encode::<WebhookItem>(w)?)?;
        tx.commit(self).await.map_err(|e| match e {
            StoreError::Conflict => StoreError::NotFound,
            e => e,
        })
    }

    async fn get_webhook(&self, portal_id: Uuid, id: Uuid) -> StoreResult<Option<Webhook>> {
        self.get_as::<WebhookItem>(key(keys::portal(portal_id), &keys::webhook(id))).await
    }

    async fn list_webhooks(&self, portal_id: Uuid) -> StoreResult<Vec<Webhook>> {
        let values = vec![(":pk", s(keys::portal(portal_id))), (":w", s(keys::WEBHOOK_PREFIX))];
        let items = self.query(&Query::new(None, "pk = :pk AND begins_with(sk, :w)", values), None, None).await?;
        items.into_iter().map(decode::<WebhookItem>).collect()
    }

    async fn update_webhook(&self, w: &Webhook) -> StoreResult<()> {
        let mut tx = Tx::new(self);
        tx.put_if(Label::Webhook, encode::<WebhookItem>(w)?, version_is(read_version(w.version)))?;
        tx.commit(self).await
    }

    async fn delete_webhook(&self, portal_id: Uuid, id: Uuid) -> StoreResult<()> {
        let mut tx = Tx::new(self);
        tx.delete_if(Label::Webhook, key(keys::portal(portal_id), &keys::webhook(id)), exists())?;
        tx.commit(self).await
    }
}

impl WebhookHealthStore for Dynamo {
    /// One `UpdateItem` that leaves the version alone (the admin's versioned writes carry the
    /// attribute as read): `SET failing_since` [`attribute_exists(pk) AND
    /// attribute_not_exists(failing_since)`], or `REMOVE failing_since`
    /// [`attribute_exists(failing_since)`]. A failed condition means another attempt did it.
    async fn set_failing_since(&self, portal_id: Uuid, webhook_id: Uuid, since: Option<Timestamp>) -> StoreResult<()> {
        let req = self.client.update_item().table_name(&self.table).set_key(Some(key(keys::portal(portal_id), &keys::webhook(webhook_id))));
        let req = match since {
            Some(t) => req
                .update_expression("SET failing_since = :t")
                .condition_expression("attribute_exists(pk) AND attribute_not_exists(failing_since)")
                .expression_attribute_values(":t", s(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))),
            None => req.update_expression("REMOVE failing_since").condition_expression("attribute_exists(failing_since)"),
        };
        let result = req.send().await.map(|_| ()).map_err(super::attr::classify);
        super::attr::conflict_is(result, ())
    }

    /// One transaction: the disabled endpoint [`version = :read`] and the event.
    async fn disable_webhook(&self, w: &Webhook, event: &LifecycleEvent) -> StoreResult<bool> {
        let mut tx = Tx::new(self);
        tx.put_if(Label::Webhook, encode::<WebhookItem>(w)?, version_is(read_version(w.version)))?;
        tx.put(Label::Event, encode::<EventItem>(event)?, None)?;
        match tx.commit(self).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
