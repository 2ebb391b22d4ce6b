//! Sessions and sign-in lookups, single-use link tokens, and throttle counters.

use aws_sdk_dynamodb::types::ReturnValue;
use uuid::Uuid;

use super::attr::{classify, conflict_is, from_item, key, n, s, Expr};
use super::keys::{self, kind};
use super::models::{encode, EventItem, LinkItem, LoginMarker, SessionItem};
use super::tx::{Label, Tx};
use super::Dynamo;
use crate::domain::{Developer, DeveloperState, LifecycleEvent, LinkPurpose, LinkToken, Session, Timestamp};
use crate::store::{LinkStore, SessionStore, StoreResult, ThrottleStore};
use crate::throttle::Counter;

impl SessionStore for Dynamo {
    /// The session and its `developer.logged_in` event, in one transaction.
    async fn put_session(&self, session: &Session, event: &LifecycleEvent) -> StoreResult<()> {
        let mut tx = Tx::new(self);
        tx.put(Label::Session, encode::<SessionItem>(session)?, None)?;
        tx.put(Label::Event, encode::<EventItem>(event)?, None)?;
        tx.commit(self).await
    }

    async fn session_and_developer(&self, developer_id: Uuid, token_hash: &str) -> StoreResult<(Option<Session>, Option<Developer>)> {
        self.with_developer::<SessionItem>(developer_id, &keys::session(token_hash)).await
    }

    async fn delete_session(&self, developer_id: Uuid, token_hash: &str) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::developer(developer_id), &keys::session(token_hash))))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn touch_developer(&self, developer_id: Uuid, now: Timestamp) -> StoreResult<()> {
        // Not versioned: activity is not a change a concurrent writer must see.
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::developer(developer_id), keys::PROFILE)))
            .update_expression("SET last_active_at = :now")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":now", s(now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)))
            .send()
            .await
            .map_err(classify)
            .map(|_| ());
        // A developer deleted meanwhile: nothing to record.
        conflict_is(result, ())
    }

    async fn find_login(&self, portal_id: Uuid, login_norm: &str, by_email: bool) -> StoreResult<Option<Uuid>> {
        let pk = if by_email { keys::email_marker(portal_id, login_norm) } else { keys::username_marker(portal_id, login_norm) };
        Ok(self.get(key(pk, keys::UNIQUE)).await?.and_then(|i| from_item::<LoginMarker>(i).ok()).map(|m| m.developer_id))
    }
}

impl ThrottleStore for Dynamo {
    async fn reserve(&self, c: &Counter) -> StoreResult<Option<u64>> {
        // Throttle items are only ever written by these two updates (no item model): `count`,
        // the optional `sub` count, `ttl` at the window's end and `kind`.
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::throttle(&c.key), keys::THROTTLE_SK)))
            .expression_attribute_names("#count", "count")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(c.limit as i64))
            .expression_attribute_values(":ttl", n(c.window_ends.timestamp()))
            .expression_attribute_values(":kind", s(kind::THROTTLE))
            .return_values(ReturnValue::UpdatedNew);
        let (update, condition) = match &c.sub {
            Some((name, limit)) => {
                req = req.expression_attribute_names("#sub", name).expression_attribute_values(":sublimit", n(*limit as i64));
                (
                    "ADD #count :one, #sub :one SET #ttl = :ttl, kind = :kind",
                    "(attribute_not_exists(#count) OR #count < :limit) AND (attribute_not_exists(#sub) OR #sub < :sublimit)",
                )
            }
            None => ("ADD #count :one SET #ttl = :ttl, kind = :kind", "attribute_not_exists(#count) OR #count < :limit"),
        };
        let result = req.update_expression(update).condition_expression(condition).send().await.map_err(classify);
        let counted = result.map(|out| Some(out.attributes.and_then(|a| a.get("count")?.as_n().ok()?.parse().ok()).unwrap_or(1)));
        // At the limit: nothing counted.
        conflict_is(counted, None)
    }

    async fn release(&self, c: &Counter, forget_sub: bool) -> StoreResult<()> {
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::throttle(&c.key), keys::THROTTLE_SK)))
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#count", "count")
            .expression_attribute_values(":minus", n(-1));
        let update = match &c.sub {
            Some((name, _)) => {
                req = req.expression_attribute_names("#sub", name);
                if forget_sub {
                    "ADD #count :minus REMOVE #sub"
                } else {
                    "ADD #count :minus, #sub :minus"
                }
            }
            None => "ADD #count :minus",
        };
        let result = req.update_expression(update).send().await.map_err(classify).map(|_| ());
        // The window ended and the item was reaped: nothing to give back.
        conflict_is(result, ())
    }
}

impl LinkStore for Dynamo {
    async fn put_link(&self, link: &LinkToken) -> StoreResult<bool> {
        let mut tx = Tx::new(self);
        // Only for a developer that exists and is approved (no orphan links, none for a
        // developer revoked meanwhile).
        let approved = Expr::new("attribute_exists(pk) AND #state = :approved")
            .name("#state", "state")
            .value(":approved", s(DeveloperState::Approved.as_str()));
        tx.check(Label::Developer, key(keys::developer(link.developer_id), keys::PROFILE), approved)?;
        // A link replaces only links of older requests; a replayed request rewrites its own
        // link unless that one was used meanwhile (then it stays used).
        let newer = Expr::new(
            "attribute_not_exists(pk) OR attribute_not_exists(requested_ms) OR requested_ms < :ms \
             OR (requested_ms = :ms AND attribute_not_exists(link_used))",
        )
        .value(":ms", n(link.created_at.timestamp_millis()));
        tx.put_if(Label::Link, encode::<LinkItem>(link)?, newer)?;
        conflict_is(tx.commit(self).await.map(|()| true), false)
    }

    async fn link_and_developer(&self, developer_id: Uuid, purpose: LinkPurpose) -> StoreResult<(Option<LinkToken>, Option<Developer>)> {
        self.with_developer::<LinkItem>(developer_id, &keys::link(purpose)).await
    }
}
