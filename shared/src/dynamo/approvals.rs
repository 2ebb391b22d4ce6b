//! Approval requests and invites: both listed by status in their own index partitions.

use uuid::Uuid;

use super::attr::{item_str, key, n, s, to_item, Expr};
use super::cursor::{fingerprint, page_of, start_key, KeyShape};
use super::models::{encode, ApprovalItem, EventItem, InviteItem, InviteMarkerItem};
use super::ops::Query;
use super::tx::{Label, Tx, TxError};
use super::{keys, read_version, version_is, Dynamo};
use crate::domain::{Approval, Invite, InviteStatus, LifecycleEvent, Timestamp};
use crate::store::{ApprovalQuery, ApprovalStore, InviteError, InviteQuery, InviteStore, Page, StoreError, StoreResult};

/// gsi1 when the query names a status, else gsi2.
fn index_of(by_status: bool) -> (&'static str, &'static str, &'static str) {
    if by_status {
        ("gsi1", "gsi1pk", "gsi1sk")
    } else {
        ("gsi2", "gsi2pk", "gsi2sk")
    }
}

impl ApprovalStore for Dynamo {
    async fn get_approval(&self, id: Uuid) -> StoreResult<Option<Approval>> {
        self.get_as::<ApprovalItem>(key(keys::approval(id), keys::APPROVAL_SK)).await
    }

    async fn list_approvals(&self, q: &ApprovalQuery) -> StoreResult<Page<Approval>> {
        let limit = q.limit.clamp(1, 100);
        let (index, pk_attr, sk_attr) = index_of(q.status.is_some());
        let partition = keys::approvals(&q.event, q.status);
        let portal = q.portal_id.map(|p| p.to_string());
        let f = fingerprint(&[&partition, portal.as_deref().unwrap_or("*")]);
        let shape = KeyShape::index(pk_attr, sk_attr, &partition);
        let start = start_key(q.cursor.as_deref(), &f, &shape)?;
        let mut values = vec![(":p", s(partition.clone()))];
        let condition = match &portal {
            Some(p) => {
                values.push((":prefix", s(keys::portal_prefix(p))));
                format!("{pk_attr} = :p AND begins_with({sk_attr}, :prefix)")
            }
            None => format!("{pk_attr} = :p"),
        };
        let items = self.query(&Query::new(Some(index), &condition, values), start, Some(limit + 1)).await?;
        page_of::<ApprovalItem>(items, limit, f, &shape.attrs, None)
    }
}

impl InviteStore for Dynamo {
    async fn create_invite(&self, invite: &Invite, event: &LifecycleEvent, now: Timestamp) -> Result<(), InviteError> {
        let mut tx = Tx::new(self);
        tx.create(Label::Invite, encode::<InviteItem>(invite)?)?;
        let free = Expr::new("attribute_not_exists(pk) OR expires_epoch <= :now").value(":now", n(now.timestamp()));
        tx.put_if(Label::InviteMarker, to_item(&InviteMarkerItem::new(invite))?, free)?;
        tx.put(Label::Event, encode::<EventItem>(event)?, None)?;
        match tx.send(self).await {
            Ok(()) => Ok(()),
            Err(TxError::Cancelled(c)) if c.failed(Label::InviteMarker) => Err(InviteError::AlreadyInvited),
            Err(TxError::Cancelled(c)) if c.any_failed() => Err(InviteError::Store(StoreError::Conflict)),
            Err(TxError::Cancelled(c)) => Err(InviteError::Store(c.unavailable())),
            Err(TxError::Store(e)) => Err(InviteError::Store(e)),
        }
    }

    async fn get_invite(&self, id: Uuid) -> StoreResult<Option<Invite>> {
        self.get_as::<InviteItem>(key(keys::invite(id), keys::INVITE_SK)).await
    }

    async fn update_invite(&self, invite: &Invite, event: &LifecycleEvent) -> StoreResult<()> {
        let mut tx = Tx::new(self);
        tx.put_if(Label::Invite, encode::<InviteItem>(invite)?, version_is(read_version(invite.version)))?;
        if invite.status == InviteStatus::Pending {
            // Re-sent: the marker's expiry moves with the invite's.
            tx.put(Label::InviteMarker, to_item(&InviteMarkerItem::new(invite))?, None)?;
        } else {
            let ours = Expr::new("attribute_not_exists(pk) OR invite_id = :id").value(":id", s(invite.id.to_string()));
            tx.delete_if(Label::InviteMarker, key(keys::invite_marker(invite.portal_id, &invite.email_norm), keys::UNIQUE), ours)?;
        }
        tx.put(Label::Event, encode::<EventItem>(event)?, None)?;
        tx.commit(self).await
    }

    async fn list_invites(&self, q: &InviteQuery, now: Timestamp) -> StoreResult<Page<Invite>> {
        let limit = q.limit.clamp(1, 100);
        // Expired is pending past its expiry: both read the pending partition with a filter.
        let (stored, filter) = match q.status {
            Some(InviteStatus::Expired) => (Some(InviteStatus::Pending), Some("expires_epoch <= :now")),
            Some(InviteStatus::Pending) => (Some(InviteStatus::Pending), Some("expires_epoch > :now")),
            other => (other, None),
        };
        let (index, pk_attr, sk_attr) = index_of(stored.is_some());
        let partition = keys::invites(q.portal_id, stored);
        let f = fingerprint(&[&partition, q.status.map(|s| s.as_str()).unwrap_or("*")]);
        let shape = KeyShape::index(pk_attr, sk_attr, &partition);
        let start = start_key(q.cursor.as_deref(), &f, &shape)?;
        let filter = filter.map(|expr| (expr, vec![(":now", n(now.timestamp()))], vec![]));
        let condition = format!("{pk_attr} = :p");
        let query = Query::new(Some(index), &condition, vec![(":p", s(partition.clone()))]).filter(filter);
        let items = self.query(&query, start, Some(limit + 1)).await?;
        page_of::<InviteItem>(items, limit, f, &shape.attrs, None)
    }

    async fn registered_emails(&self, portal_id: Uuid, emails: &[String]) -> StoreResult<Vec<String>> {
        let markers = self.batch_get(emails.iter().map(|e| key(keys::email_marker(portal_id, e), keys::UNIQUE)).collect()).await?;
        Ok(markers.iter().filter_map(|m| keys::email_of_marker(&item_str(m, "pk")?).map(str::to_string)).collect())
    }
}
