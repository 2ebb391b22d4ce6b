//! Storage ports: portals, developers, approvals, the event log and audit, the mail ledger.

use std::future::Future;

use uuid::Uuid;

use crate::domain::audit::{ActorFilter, TypeFilter};
use crate::domain::{
    Actor, Approval, ApprovalStatus, Developer, DeveloperState, EventType, Invite, LifecycleEvent, LinkToken, Portal, Session, Timestamp,
    Versioned,
};

use super::*;

/// A portal as the portal index lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct PortalEntry {
    pub id: Uuid,
    pub name: String,
    pub created_at: Timestamp,
}

impl From<&Portal> for PortalEntry {
    fn from(p: &Portal) -> Self {
        Self { id: p.id, name: p.name.clone(), created_at: p.created_at }
    }
}

pub trait PortalStore: Send + Sync {
    /// Creates the portal, its counters and its index entry in one transaction.
    fn create_portal(&self, portal: &Portal) -> impl Future<Output = StoreResult<()>> + Send;
    fn get_portal(&self, id: Uuid) -> impl Future<Output = StoreResult<Option<Portal>>> + Send;
    /// Replaces the portal if its stored version is still `portal.version - 1` (and its index
    /// entry with it).
    fn update_portal(&self, portal: &Portal) -> impl Future<Output = StoreResult<()>> + Send;
    /// Every portal, oldest first, a page at a time (one `Query` of the portal index).
    fn list_portals(&self, limit: usize, cursor: Option<String>) -> impl Future<Output = StoreResult<Page<PortalEntry>>> + Send;
}

/// A new self-registered (or invited) developer with the records written with it.
#[derive(Debug)]
pub struct NewDeveloper {
    pub developer: Developer,
    pub approval: Option<Approval>,
    /// The invite being accepted, as it is to be stored (status accepted, version + 1); the
    /// write is conditional on it still being pending with the token hash presented.
    pub accepted_invite: Option<Invite>,
    /// The email-verification link written with a self-registration.
    pub verification: Option<LinkToken>,
    pub event: LifecycleEvent,
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("the username is taken")]
    UsernameTaken,
    /// The invite was used, withdrawn or re-sent meanwhile.
    #[error("the invite is no longer valid")]
    InviteUsed,
    /// The email already has an account: its owner's id and address, when known.
    #[error("the email is registered")]
    EmailTaken(Option<(Uuid, String)>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One change to a developer, written atomically, conditional on the version read.
#[derive(Debug)]
pub struct DeveloperChange {
    pub before: Developer,
    pub after: Developer,
    /// Decides the developer's open approval request (which must still be pending).
    pub close_approval: Option<ApprovalDecision>,
    /// Opens a new approval request (when sent back to pending).
    pub open_approval: Option<Approval>,
    pub event: Option<LifecycleEvent>,
    /// A session to carry over into the new session epoch (the one that changed the password).
    pub keep_session: Option<Session>,
    /// A link token used by this change: deleted, conditional on its hash (single use).
    pub consume_link: Option<LinkToken>,
}

impl DeveloperChange {
    /// A change developers make to their own account (no state transition); the event records
    /// it with the unchanged state.
    pub fn by_developer(before: Developer, mut after: Developer, event_type: EventType, now: Timestamp) -> Self {
        after.version = before.version;
        after.bump(now);
        let mut event = LifecycleEvent::new(event_type, &after, Actor::developer(before.id), now);
        event.from_state = Some(before.state);
        event.to_state = Some(before.state);
        Self { before, after, close_approval: None, open_approval: None, event: Some(event), keep_session: None, consume_link: None }
    }
}

#[derive(Debug, Clone)]
pub struct ApprovalDecision {
    pub approval_id: Uuid,
    pub status: ApprovalStatus,
    pub decided_by: String,
    pub decided_at: Timestamp,
}

#[derive(Debug, Clone, Default)]
pub struct DeveloperQuery {
    pub portal_id: Uuid,
    pub state: Option<DeveloperState>,
    /// Lower-cased prefix of email, username or name.
    pub prefix: Option<String>,
    pub limit: usize,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ApprovalQuery {
    pub event: String,
    pub status: Option<ApprovalStatus>,
    pub portal_id: Option<Uuid>,
    pub limit: usize,
    pub cursor: Option<String>,
}

pub trait DeveloperStore: Send + Sync {
    fn register(&self, new: &NewDeveloper) -> impl Future<Output = Result<(), RegisterError>> + Send;
    fn get_developer(&self, id: Uuid) -> impl Future<Output = StoreResult<Option<Developer>>> + Send;
    /// Many developers in as few round trips as the store allows (DynamoDB: one consistent
    /// `BatchGetItem` per 100 ids). Those not found are left out; the order is the store's.
    fn get_developers(&self, ids: &[Uuid]) -> impl Future<Output = StoreResult<Vec<Developer>>> + Send;
    fn change_developer(&self, change: &DeveloperChange) -> impl Future<Output = StoreResult<()>> + Send;
    /// Deletes the developer and everything it owns, conditional on the version read.
    fn delete_developer(&self, developer: &Developer, event: &LifecycleEvent) -> impl Future<Output = StoreResult<()>> + Send;
    fn list_developers(&self, query: &DeveloperQuery) -> impl Future<Output = StoreResult<Page<Developer>>> + Send;
    /// `None` when the portal does not exist.
    fn count_developers(&self, portal_id: Uuid) -> impl Future<Output = StoreResult<Option<StateCounts>>> + Send;
}

/// Exact number of developers per state in a portal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateCounts {
    pub pending: u64,
    pub approved: u64,
    pub rejected: u64,
    pub revoked: u64,
}

impl StateCounts {
    pub fn get(&self, s: DeveloperState) -> u64 {
        match s {
            DeveloperState::Pending => self.pending,
            DeveloperState::Approved => self.approved,
            DeveloperState::Rejected => self.rejected,
            DeveloperState::Revoked => self.revoked,
        }
    }
    pub fn total(&self) -> u64 {
        self.pending + self.approved + self.rejected + self.revoked
    }
}

pub trait ApprovalStore: Send + Sync {
    fn get_approval(&self, id: Uuid) -> impl Future<Output = StoreResult<Option<Approval>>> + Send;
    fn list_approvals(&self, query: &ApprovalQuery) -> impl Future<Output = StoreResult<Page<Approval>>> + Send;
}

pub trait EventLog: Send + Sync {
    /// Records an event with no state change. With `dedupe`, an event with the same id that
    /// already exists makes this a no-op (returns false).
    fn record_event(&self, event: &LifecycleEvent, dedupe: bool) -> impl Future<Output = StoreResult<bool>> + Send;
}

/// A page of a portal's audit trail, newest first: the whole portal, or one developer's
/// history (also after the developer was deleted), narrowed by type, actor and time window.
#[derive(Debug, Clone)]
pub struct EventQuery {
    pub portal_id: Uuid,
    pub developer_id: Option<Uuid>,
    pub types: Option<TypeFilter>,
    pub actor: Option<ActorFilter>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub limit: usize,
    pub cursor: Option<String>,
}

pub trait AuditLog: Send + Sync {
    fn list_events(&self, query: &EventQuery) -> impl Future<Output = StoreResult<Page<LifecycleEvent>>> + Send;
}

/// Outcome of claiming the right to send an event's mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailClaim {
    /// Nobody sent it yet: send it, then `complete` (or `release` on failure).
    Acquired,
    /// It was sent before: do nothing.
    AlreadySent,
    /// Another invocation is sending it right now (lease not expired): retry later.
    InFlight,
    /// It can never be sent (recorded by `fail`): do nothing.
    Failed,
}

/// Exactly-once guard for mail: a marker per (event, mail) written before sending.
pub trait MailLedger: Send + Sync {
    fn claim_mail(
        &self,
        event_id: Uuid,
        mail: &str,
        now: Timestamp,
        lease_seconds: i64,
    ) -> impl Future<Output = StoreResult<MailClaim>> + Send;
    fn complete_mail(&self, event_id: Uuid, mail: &str, message_id: &str, now: Timestamp) -> impl Future<Output = StoreResult<()>> + Send;
    fn release_mail(&self, event_id: Uuid, mail: &str) -> impl Future<Output = StoreResult<()>> + Send;
    /// Records that a claimed mail can never be sent (a template that fails to render, an
    /// address the provider rejects): on its marker, so replays skip it, and on the event
    /// (`mail_failures`), so the audit trail shows it.
    fn fail_mail(&self, event_id: Uuid, mail: &str, reason: &str, now: Timestamp) -> impl Future<Output = StoreResult<()>> + Send;
}
