//! Portals and their counters, approvals, the event log and its mail markers, invites and
//! admin tokens.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{epoch, is_zero, Model, SnapshotItem};
use crate::domain::{
    Actor, Approval, ApprovalStatus, DeveloperState, EventSubject, EventType, Invite, InviteStatus, LifecycleEvent, Portal, PortalSettings,
    Timestamp, EVENT_RETENTION_DAYS,
};
use crate::dynamo::keys::{self, kind};
use crate::store::{AdminToken, PortalEntry, StateCounts};

const DAY: i64 = 86_400;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct PortalItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub id: Uuid,
    pub name: String,
    pub settings: PortalSettings,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Left out at 0: portals written before versions were kept have none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub version: u64,
}

impl Model for PortalItem {
    type Domain = Portal;

    fn from_domain(p: &Portal) -> Self {
        Self {
            pk: keys::portal(p.id),
            sk: keys::PORTAL_SK.into(),
            kind: kind::PORTAL.into(),
            id: p.id,
            name: p.name.clone(),
            settings: p.settings.clone(),
            created_at: p.created_at,
            updated_at: p.updated_at,
            version: p.version,
        }
    }

    fn into_domain(self) -> Portal {
        Portal {
            id: self.id,
            name: self.name,
            settings: self.settings,
            created_at: self.created_at,
            updated_at: self.updated_at,
            version: self.version,
        }
    }
}

/// A portal's entry in the portal index (`pk = PORTALS`, `sk = <created_at>#<id>`), written in
/// the transaction that creates the portal and again in every change of the portal (so its
/// name is the portal's own).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct PortalIndexItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub portal_id: Uuid,
    pub name: String,
    pub created_at: Timestamp,
}

impl Model for PortalIndexItem {
    type Domain = PortalEntry;

    fn from_domain(p: &PortalEntry) -> Self {
        Self {
            pk: keys::PORTALS.into(),
            sk: keys::portal_order(p.created_at, p.id),
            kind: kind::PORTAL_INDEX.into(),
            portal_id: p.id,
            name: p.name.clone(),
            created_at: p.created_at,
        }
    }

    fn into_domain(self) -> PortalEntry {
        PortalEntry { id: self.portal_id, name: self.name, created_at: self.created_at }
    }
}

/// A portal's exact number of developers per state (`sk = COUNTERS`), moved by `ADD` in the
/// transaction of every change of state. Created with the portal: a portal without its
/// counters does not exist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CountersItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    #[serde(default)]
    pub pending: i64,
    #[serde(default)]
    pub approved: i64,
    #[serde(default)]
    pub rejected: i64,
    #[serde(default)]
    pub revoked: i64,
}

impl CountersItem {
    pub fn zero(portal: Uuid) -> Self {
        Self {
            pk: keys::portal(portal),
            sk: keys::COUNTERS.into(),
            kind: kind::COUNTERS.into(),
            pending: 0,
            approved: 0,
            rejected: 0,
            revoked: 0,
        }
    }

    pub fn counts(&self) -> StateCounts {
        let get = |v: i64| v.max(0) as u64;
        StateCounts { pending: get(self.pending), approved: get(self.approved), rejected: get(self.rejected), revoked: get(self.revoked) }
    }
}

/// An approval request (`pk = APPROVAL#<id>`), in gsi1 by event and status and in gsi2 by
/// event, ordered by portal. Deciding it updates `status`, `decided_*` and `gsi1pk` in place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ApprovalItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    #[serde(default)]
    pub gsi1pk: String,
    #[serde(default)]
    pub gsi1sk: String,
    #[serde(default)]
    pub gsi2pk: String,
    #[serde(default)]
    pub gsi2sk: String,
    pub id: Uuid,
    pub event: String,
    pub status: ApprovalStatus,
    pub portal_id: Uuid,
    pub developer_id: Uuid,
    pub developer: SnapshotItem,
    pub created_at: Timestamp,
    pub decided_at: Option<Timestamp>,
    pub decided_by: Option<String>,
}

impl Model for ApprovalItem {
    type Domain = Approval;

    fn from_domain(a: &Approval) -> Self {
        let order = keys::approval_order(a.portal_id, a.id);
        Self {
            pk: keys::approval(a.id),
            sk: keys::APPROVAL_SK.into(),
            kind: kind::APPROVAL.into(),
            gsi1pk: keys::approvals(&a.event, Some(a.status)),
            gsi1sk: order.clone(),
            gsi2pk: keys::approvals(&a.event, None),
            gsi2sk: order,
            id: a.id,
            event: a.event.clone(),
            status: a.status,
            portal_id: a.portal_id,
            developer_id: a.developer_id,
            developer: (&a.developer).into(),
            created_at: a.created_at,
            decided_at: a.decided_at,
            decided_by: a.decided_by.clone(),
        }
    }

    fn into_domain(self) -> Approval {
        Approval {
            id: self.id,
            event: self.event,
            status: self.status,
            portal_id: self.portal_id,
            developer_id: self.developer_id,
            developer: self.developer.into(),
            created_at: self.created_at,
            decided_at: self.decided_at,
            decided_by: self.decided_by,
        }
    }
}

/// A lifecycle event (`pk = EVENT#<id>`, `sk = EVENT`): the outbox the stream consumer reads.
/// `fail_mail` appends to `mail_failures` in place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct EventItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    #[serde(default)]
    pub ttl: i64,
    pub id: Uuid,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub portal_id: Uuid,
    pub developer_id: Option<Uuid>,
    pub actor: String,
    pub from_state: Option<DeveloperState>,
    pub to_state: Option<DeveloperState>,
    pub at: Timestamp,
    pub approval_id: Option<Uuid>,
    pub developer: SnapshotItem,
    pub reason: Option<String>,
    #[serde(default)]
    pub invite_id: Option<Uuid>,
    #[serde(default)]
    pub token_nonce: Option<String>,
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
    /// Appended by `fail_mail`; never written with the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail_failures: Option<Vec<MailFailureItem>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<EventSubject>,
    /// The audit trail's index keys (sparse; events written before them have none):
    /// gsi1 the developer's history, gsi2 the portal's feed, gsi3 the feed of a type family.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi1pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi1sk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi2pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi2sk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi3pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi3sk: Option<String>,
}

/// A mail of an event that can never be sent, as recorded on the event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct MailFailureItem {
    pub mail: String,
    pub error: String,
    /// Milliseconds, as the update writes it.
    pub at: String,
}

impl Model for EventItem {
    type Domain = LifecycleEvent;

    fn from_domain(e: &LifecycleEvent) -> Self {
        Self {
            pk: keys::event(e.id),
            sk: keys::EVENT_SK.into(),
            kind: kind::EVENT.into(),
            ttl: epoch(e.at) + e.retention_days.map_or(EVENT_RETENTION_DAYS, i64::from) * DAY,
            id: e.id,
            event_type: e.event_type,
            portal_id: e.portal_id,
            developer_id: e.developer_id,
            actor: e.actor.0.clone(),
            from_state: e.from_state,
            to_state: e.to_state,
            at: e.at,
            approval_id: e.approval_id,
            developer: (&e.developer).into(),
            reason: e.reason.clone(),
            invite_id: e.invite_id,
            token_nonce: e.token_nonce.clone(),
            expires_at: e.expires_at,
            mail_failures: None,
            subject: e.subject.clone(),
            gsi1pk: e.developer_id.map(|d| keys::developer_events(e.portal_id, d)),
            gsi1sk: e.developer_id.map(|_| e.id.to_string()),
            gsi2pk: Some(keys::portal_events(e.portal_id)),
            gsi2sk: Some(e.id.to_string()),
            gsi3pk: Some(keys::family_events(e.portal_id, &e.event_type.family())),
            gsi3sk: Some(e.id.to_string()),
        }
    }

    fn into_domain(self) -> LifecycleEvent {
        LifecycleEvent {
            id: self.id,
            event_type: self.event_type,
            portal_id: self.portal_id,
            developer_id: self.developer_id,
            actor: Actor(self.actor),
            from_state: self.from_state,
            to_state: self.to_state,
            at: self.at,
            approval_id: self.approval_id,
            developer: self.developer.into(),
            reason: self.reason,
            invite_id: self.invite_id,
            token_nonce: self.token_nonce,
            expires_at: self.expires_at,
            retention_days: None,
            subject: self.subject,
        }
    }
}

/// The states of an exactly-once mail marker.
pub(crate) mod mail_status {
    pub const SENDING: &str = "sending";
    pub const SENT: &str = "sent";
    pub const FAILED: &str = "failed";
}

/// The exactly-once marker of one mail of an event (`pk = EVENT#<id>`, `sk = MAIL#<name>`), as
/// a claim writes it; completing or failing it updates it in place (`message_id`, `sent_at`,
/// `error`, `failed_at`, no more `lease_until`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct MailMarkerItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<i64>,
    #[serde(default)]
    pub ttl: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_at: Option<String>,
}

impl MailMarkerItem {
    pub fn claim(event_id: Uuid, mail: &str, now: Timestamp, lease_seconds: i64) -> Self {
        Self {
            pk: keys::event(event_id),
            sk: keys::mail(mail),
            kind: kind::MAIL_MARKER.into(),
            status: mail_status::SENDING.into(),
            lease_until: Some(epoch(now) + lease_seconds),
            ttl: epoch(now) + EVENT_RETENTION_DAYS * DAY,
            message_id: None,
            sent_at: None,
            error: None,
            failed_at: None,
        }
    }
}

/// A registration-link invite (`pk = INVITE#<id>`), in its portal's gsi1 (by status) and gsi2
/// partitions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct InviteItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    #[serde(default)]
    pub gsi1pk: String,
    #[serde(default)]
    pub gsi1sk: String,
    #[serde(default)]
    pub gsi2pk: String,
    #[serde(default)]
    pub gsi2sk: String,
    /// `expires_at` in epoch seconds, for conditions and filters.
    #[serde(default)]
    pub expires_epoch: i64,
    #[serde(default)]
    pub ttl: i64,
    pub id: Uuid,
    pub portal_id: Uuid,
    pub email: String,
    pub email_norm: String,
    pub status: InviteStatus,
    pub nonce: String,
    pub token_hash: String,
    pub expires_at: Timestamp,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub accepted_by: Option<Uuid>,
    pub version: u64,
}

impl Model for InviteItem {
    type Domain = Invite;

    fn from_domain(i: &Invite) -> Self {
        Self {
            pk: keys::invite(i.id),
            sk: keys::INVITE_SK.into(),
            kind: kind::INVITE.into(),
            gsi1pk: keys::invites(i.portal_id, Some(i.status)),
            gsi1sk: i.id.to_string(),
            gsi2pk: keys::invites(i.portal_id, None),
            gsi2sk: i.id.to_string(),
            expires_epoch: epoch(i.expires_at),
            ttl: epoch(i.expires_at) + EVENT_RETENTION_DAYS * DAY,
            id: i.id,
            portal_id: i.portal_id,
            email: i.email.clone(),
            email_norm: i.email_norm.clone(),
            status: i.status,
            nonce: i.nonce.clone(),
            token_hash: i.token_hash.clone(),
            expires_at: i.expires_at,
            created_at: i.created_at,
            updated_at: i.updated_at,
            accepted_by: i.accepted_by,
            version: i.version,
        }
    }

    fn into_domain(self) -> Invite {
        Invite {
            id: self.id,
            portal_id: self.portal_id,
            email: self.email,
            email_norm: self.email_norm,
            status: self.status,
            nonce: self.nonce,
            token_hash: self.token_hash,
            expires_at: self.expires_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
            accepted_by: self.accepted_by,
            version: self.version,
        }
    }
}

/// The per-address marker of a pending invite: at most one unexpired invite per address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct InviteMarkerItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub invite_id: Uuid,
    pub expires_epoch: i64,
    pub ttl: i64,
}

impl InviteMarkerItem {
    pub fn new(i: &Invite) -> Self {
        Self {
            pk: keys::invite_marker(i.portal_id, &i.email_norm),
            sk: keys::UNIQUE.into(),
            kind: kind::INVITE_MARKER.into(),
            invite_id: i.id,
            expires_epoch: epoch(i.expires_at),
            ttl: epoch(i.expires_at) + DAY,
        }
    }
}

/// An admin API token, by hash (`pk = ADMINTOKEN#<hash>`), listed oldest first in gsi2.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct AdminTokenItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    #[serde(default)]
    pub gsi2pk: String,
    #[serde(default)]
    pub gsi2sk: String,
    /// Reaped a month after it stopped working (it is listed as expired until then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
    pub id: String,
    pub name: String,
    pub scope: String,
    pub token_hash: String,
    pub created_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
}

impl Model for AdminTokenItem {
    type Domain = AdminToken;

    fn from_domain(t: &AdminToken) -> Self {
        Self {
            pk: keys::admin_token(&t.token_hash),
            sk: keys::ADMIN_TOKEN_SK.into(),
            kind: kind::ADMIN_TOKEN.into(),
            gsi2pk: keys::ADMIN_TOKENS.into(),
            gsi2sk: keys::admin_token_order(t.created_at, &t.id),
            ttl: t.expires_at.map(|e| epoch(e) + 30 * DAY),
            id: t.id.clone(),
            name: t.name.clone(),
            scope: t.scope.clone(),
            token_hash: t.token_hash.clone(),
            created_at: t.created_at,
            expires_at: t.expires_at,
        }
    }

    fn into_domain(self) -> AdminToken {
        AdminToken {
            id: self.id,
            name: self.name,
            scope: self.scope,
            token_hash: self.token_hash,
            created_at: self.created_at,
            expires_at: self.expires_at,
        }
    }
}
