//! Storage ports: invites, sessions, rate-limit counters, links, teams, applications and the outbox feed.

use std::future::Future;

use uuid::Uuid;

use crate::domain::{
    Application, Credential, Developer, Invite, InviteStatus, LifecycleEvent, LinkPurpose, LinkToken, Session, Team, Timestamp,
};
use crate::error::BoxError;

use super::*;

#[derive(Debug, thiserror::Error)]
pub enum InviteError {
    /// A pending, unexpired invite for this address exists.
    #[error("already invited")]
    AlreadyInvited,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, Default)]
pub struct InviteQuery {
    pub portal_id: Uuid,
    pub status: Option<InviteStatus>,
    pub limit: usize,
    pub cursor: Option<String>,
}

pub trait InviteStore: Send + Sync {
    /// Writes a new invite with its per-address marker (refused while another pending,
    /// unexpired invite holds it) and its `invite.sent` event.
    fn create_invite(
        &self,
        invite: &Invite,
        event: &LifecycleEvent,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), InviteError>> + Send;
    fn get_invite(&self, id: Uuid) -> impl Future<Output = StoreResult<Option<Invite>>> + Send;
    /// Replaces an invite (version checked) with its event: withdraw (marker removed) or re-send
    /// (marker's expiry moved).
    fn update_invite(&self, invite: &Invite, event: &LifecycleEvent) -> impl Future<Output = StoreResult<()>> + Send;
    fn list_invites(&self, query: &InviteQuery, now: Timestamp) -> impl Future<Output = StoreResult<Page<Invite>>> + Send;
    /// Which of these normalized addresses already have an account in the portal.
    fn registered_emails(&self, portal_id: Uuid, emails: &[String]) -> impl Future<Output = StoreResult<Vec<String>>> + Send;
}

pub trait SessionStore: Send + Sync {
    fn put_session(&self, session: &Session, event: &LifecycleEvent) -> impl Future<Output = StoreResult<()>> + Send;
    /// The session and its developer, in one round trip.
    fn session_and_developer(
        &self,
        developer_id: Uuid,
        token_hash: &str,
    ) -> impl Future<Output = StoreResult<(Option<Session>, Option<Developer>)>> + Send;
    fn delete_session(&self, developer_id: Uuid, token_hash: &str) -> impl Future<Output = StoreResult<()>> + Send;
    /// Records activity without bumping the version (called at most every few minutes).
    fn touch_developer(&self, developer_id: Uuid, now: Timestamp) -> impl Future<Output = StoreResult<()>> + Send;
    /// The developer a normalized email or username belongs to, in a portal.
    fn find_login(&self, portal_id: Uuid, login_norm: &str, by_email: bool) -> impl Future<Output = StoreResult<Option<Uuid>>> + Send;
}

/// One counter item: `limit` is enforced by the conditional write; `sub` is a second count on
/// the same item (attribute name, limit), e.g. one client's share of an account's failures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    pub key: String,
    pub limit: u64,
    pub sub: Option<(String, u64)>,
    pub window_ends: Timestamp,
}

impl Counter {
    /// Seconds until the window ends (what `Retry-After` says), at least 1.
    pub fn retry_after(&self, now: Timestamp) -> u64 {
        (self.window_ends - now).num_seconds().max(1) as u64
    }
}

pub trait ThrottleStore: Send + Sync {
    /// Counts one attempt on the counter unless it (or its `sub` count) is at its limit: one
    /// conditional write, so parallel attempts cannot pass the limit together. The new count,
    /// or `None` when the limit was reached (nothing counted).
    fn reserve(&self, counter: &Counter) -> impl Future<Output = StoreResult<Option<u64>>> + Send;
    /// Gives one reserved attempt back; with `forget_sub`, the `sub` count goes entirely (a
    /// successful sign-in clears its client's failures).
    fn release(&self, counter: &Counter, forget_sub: bool) -> impl Future<Output = StoreResult<()>> + Send;
}

pub trait LinkStore: Send + Sync {
    /// Writes a link token for an approved developer, replacing an older one of the same
    /// purpose. False (nothing written) when the developer is gone or not approved, when a
    /// link of a newer request is stored, or when this request's link was already used.
    fn put_link(&self, link: &LinkToken) -> impl Future<Output = StoreResult<bool>> + Send;
    /// The link token and its developer, in one round trip.
    fn link_and_developer(
        &self,
        developer_id: Uuid,
        purpose: LinkPurpose,
    ) -> impl Future<Output = StoreResult<(Option<LinkToken>, Option<Developer>)>> + Send;
}

pub trait TeamStore: Send + Sync {
    /// Creates a team; its name is unique per portal (case-insensitive): Conflict otherwise.
    fn create_team(&self, team: &Team) -> impl Future<Output = StoreResult<()>> + Send;
    fn get_team(&self, id: Uuid) -> impl Future<Output = StoreResult<Option<Team>>> + Send;
    fn list_teams(&self, portal_id: Uuid, limit: usize, cursor: Option<String>) -> impl Future<Output = StoreResult<Page<Team>>> + Send;
    /// The developer's memberships change with its `teams` list (version checked): each team
    /// joined (it must exist; Conflict when already a member) and each left (Conflict when not
    /// a member), with their `team.member_added` / `.member_removed` events, in one
    /// transaction. An admin changes one membership, an SSO sign-in any number.
    fn change_memberships(
        &self,
        before: &Developer,
        after: &Developer,
        join: &[Team],
        leave: &[Uuid],
        events: &[LifecycleEvent],
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// A page of a team's members (by developer id), with the exact member count.
    fn team_members(
        &self,
        team_id: Uuid,
        limit: usize,
        cursor: Option<String>,
    ) -> impl Future<Output = StoreResult<Page<Developer>>> + Send;
}

pub trait AppStore: Send + Sync {
    /// Creates an application with the developer's new `application_count` (version checked).
    fn create_app(
        &self,
        before: &Developer,
        after: &Developer,
        app: &Application,
        event: &LifecycleEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn get_app(&self, developer_id: Uuid, app_id: Uuid) -> impl Future<Output = StoreResult<Option<Application>>> + Send;
    fn list_apps(&self, developer_id: Uuid) -> impl Future<Output = StoreResult<Vec<Application>>> + Send;
    fn update_app(&self, app: &Application) -> impl Future<Output = StoreResult<()>> + Send;
    /// Deletes an application with its credentials, and the developer's new count.
    fn delete_app(
        &self,
        before: &Developer,
        after: &Developer,
        app: &Application,
        event: &LifecycleEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn put_credential(&self, credential: &Credential, event: &LifecycleEvent) -> impl Future<Output = StoreResult<()>> + Send;
    fn list_credentials(&self, developer_id: Uuid, app_id: Uuid) -> impl Future<Output = StoreResult<Vec<Credential>>> + Send;
    fn delete_credential(&self, credential: &Credential, event: &LifecycleEvent) -> impl Future<Output = StoreResult<()>> + Send;
    /// For the authorizer: the credential, its developer and its application, in one round trip.
    fn key_lookup(
        &self,
        developer_id: Uuid,
        app_id: Uuid,
        key_hash: &str,
    ) -> impl Future<Output = StoreResult<(Option<Credential>, Option<Developer>, Option<Application>)>> + Send;
}

/// The outbox as the stream consumer reads it: the adapter knows how its change records and
/// stored items look, the consumer only which lifecycle event a record inserted.
pub trait OutboxFeed: Send + Sync {
    /// The lifecycle event this change record inserted; `None` for any other record (an update,
    /// a removal, an item that is not an event); an error for an event that cannot be read.
    fn inserted_event(&self, record: &serde_json::Value) -> Result<Option<LifecycleEvent>, BoxError>;
}
