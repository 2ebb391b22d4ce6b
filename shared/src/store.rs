//! Storage ports: one trait per capability. The DynamoDB adapter ([`crate::dynamo`])
//! implements them all; services are generic over the traits they need.

use std::future::Future;

use uuid::Uuid;

use crate::domain::audit::{ActorFilter, TypeFilter};
use crate::domain::{
    Actor, Application, Approval, ApprovalStatus, Credential, Developer, DeveloperState, EventType, Invite, InviteStatus, LifecycleEvent,
    LinkPurpose, LinkToken, Portal, Session, Team, Timestamp, Versioned,
};
use crate::error::{AppError, BoxError};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A condition failed: somebody else changed the item first (the API answers 409).
    #[error("the item was changed concurrently")]
    Conflict,
    /// The item (e.g. the portal) does not exist.
    #[error("not found")]
    NotFound,
    /// The cursor was not issued for this query.
    #[error("the cursor is invalid for this query")]
    BadCursor,
    /// DynamoDB is throttling or failing; the SDK already retried.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("storage error")]
    Other(#[source] BoxError),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => AppError::Conflict("the developer was changed by another request; read it again and retry".into()),
            StoreError::NotFound => AppError::not_found("portal"),
            StoreError::BadCursor => AppError::field("cursor", "is not a cursor issued for this query"),
            StoreError::Unavailable(m) => AppError::Unavailable(format!("the service is temporarily unavailable ({m}); retry shortly")),
            StoreError::Other(e) => AppError::Internal(e),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// What a lost conditional write means depends on the use case: each names its own answer
/// (`store.write(..).await.on_conflict(|| ...)`); every other store error maps as usual.
pub trait OnConflict<T> {
    fn on_conflict(self, answer: impl FnOnce() -> AppError) -> Result<T, AppError>;
}

impl<T> OnConflict<T> for StoreResult<T> {
    fn on_conflict(self, answer: impl FnOnce() -> AppError) -> Result<T, AppError> {
        self.map_err(|e| match e {
            StoreError::Conflict => answer(),
            e => e.into(),
        })
    }
}

/// A page of results, with the exact total when the query has one.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: Option<u64>,
    pub next_cursor: Option<String>,
}

/// An admin API token as stored (by hash).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdminToken {
    pub id: String,
    pub name: String,
    /// `*` for every portal, or one portal id.
    pub scope: String,
    pub token_hash: String,
    pub created_at: Timestamp,
    /// After this the token answers 401 (`None`: it never expires).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
}

impl AdminToken {
    pub fn can_access(&self, portal_id: Uuid) -> bool {
        self.scope == "*" || self.scope == portal_id.to_string()
    }
    pub fn expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }
    pub fn is_global(&self) -> bool {
        self.scope == "*"
    }
}

pub trait AdminTokenStore: Send + Sync {
    fn find_admin_token(&self, token_hash: &str) -> impl Future<Output = StoreResult<Option<AdminToken>>> + Send;
    fn put_admin_token(&self, token: &AdminToken) -> impl Future<Output = StoreResult<()>> + Send;
    /// Every admin token, oldest first (for the ops CLI; never a request path).
    fn list_admin_tokens(&self) -> impl Future<Output = StoreResult<Vec<AdminToken>>> + Send;
    /// Deletes the token with this id; false when there is none.
    fn delete_admin_token(&self, id: &str) -> impl Future<Output = StoreResult<bool>> + Send;
}

/// A console session (issue 16): the admin token exchanged once at sign-in for a short-lived
/// random id, stored only as its SHA-256. The admin token's own hash is kept so every request
/// checks the token as the API does (revoked or expired: the session ends with it).
#[derive(Debug, Clone, PartialEq)]
pub struct ConsoleSession {
    /// SHA-256 hex of the session id (the cookie's value).
    pub id_hash: String,
    pub admin_token_hash: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// The outcome of a console POST (per address of an invite, per developer of a bulk
/// decision), kept a short while for the GET page the POST redirects to: keyed by its
/// session's hash and a random id, so only that session reads it and a reload re-runs nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsoleResult {
    /// SHA-256 hex of the session id it belongs to.
    pub session_hash: String,
    pub id: Uuid,
    pub portal_id: Uuid,
    /// What the result page shows (the console's view model).
    pub body: serde_json::Value,
    pub expires_at: Timestamp,
}

pub trait ConsoleSessionStore: Send + Sync {
    fn put_console_session(&self, session: &ConsoleSession) -> impl Future<Output = StoreResult<()>> + Send;
    fn get_console_session(&self, id_hash: &str) -> impl Future<Output = StoreResult<Option<ConsoleSession>>> + Send;
    fn delete_console_session(&self, id_hash: &str) -> impl Future<Output = StoreResult<()>> + Send;
    fn put_console_result(&self, result: &ConsoleResult) -> impl Future<Output = StoreResult<()>> + Send;
    /// The result `id` of the session `session_hash` (another session's is `None`).
    fn get_console_result(&self, session_hash: &str, id: Uuid) -> impl Future<Output = StoreResult<Option<ConsoleResult>>> + Send;
    /// Reads and deletes the result `id` of the session `session_hash` in one call: a result
    /// that must be shown once (a webhook secret) is gone after its first read.
    fn take_console_result(&self, session_hash: &str, id: Uuid) -> impl Future<Output = StoreResult<Option<ConsoleResult>>> + Send;
}

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

/// A portal's identity providers (single sign-on, issue 17).
pub trait IdpStore: Send + Sync {
    /// Creates a provider (Conflict if its id exists).
    fn create_idp(&self, idp: &crate::domain::IdentityProvider) -> impl Future<Output = StoreResult<()>> + Send;
    fn get_idp(&self, portal_id: Uuid, id: Uuid) -> impl Future<Output = StoreResult<Option<crate::domain::IdentityProvider>>> + Send;
    /// Every provider of a portal (at most `MAX_IDPS_PER_PORTAL`), oldest first.
    fn list_idps(&self, portal_id: Uuid) -> impl Future<Output = StoreResult<Vec<crate::domain::IdentityProvider>>> + Send;
    /// Replaces the provider if its stored version is still `idp.version - 1`.
    fn update_idp(&self, idp: &crate::domain::IdentityProvider) -> impl Future<Output = StoreResult<()>> + Send;
    /// Deletes the provider if its stored version is still `idp.version`.
    fn delete_idp(&self, idp: &crate::domain::IdentityProvider) -> impl Future<Output = StoreResult<()>> + Send;
}

/// Seals secrets held at rest (client secrets of identity providers) under a key the table
/// never sees (KMS), bound to the record they belong to (`context`: the encryption context).
pub trait SecretSealer: Send + Sync {
    /// The ciphertext of `plaintext` (opaque text to store).
    fn seal(&self, plaintext: &str, context: &[(&str, String)]) -> impl Future<Output = Result<String, AppError>> + Send;
    /// The plaintext of a sealed value, with the context it was sealed under.
    fn open(&self, sealed: &str, context: &[(&str, String)]) -> impl Future<Output = Result<String, AppError>> + Send;
}

/// The sign-in flows of single sign-on, and the (issuer, subject) markers of SSO accounts.
pub trait SsoStore: Send + Sync {
    /// Stores a started sign-in (with its TTL).
    fn put_flow(&self, flow: &crate::domain::idp::SsoFlow) -> impl Future<Output = StoreResult<()>> + Send;
    /// Deletes and returns the sign-in bound to this cookie hash; `None` when there is none (never
    /// started, used already): a replayed callback finds nothing.
    fn take_flow(&self, binding_hash: &str) -> impl Future<Output = StoreResult<Option<crate::domain::idp::SsoFlow>>> + Send;
    /// The developer an (issuer, subject) belongs to in a portal.
    fn find_subject(&self, portal_id: Uuid, issuer: &str, subject: &str) -> impl Future<Output = StoreResult<Option<Uuid>>> + Send;
    /// A new SSO developer with its (issuer, subject) marker, in the registration's transaction
    /// (`replaces`: the deleted developer a stale marker still names, overwritten).
    fn register_sso(
        &self,
        new: &NewDeveloper,
        issuer: &str,
        subject: &str,
        replaces: Option<Uuid>,
    ) -> impl Future<Output = Result<(), RegisterError>> + Send;
    /// Links an (issuer, subject) to an existing developer (Conflict if a marker names another
    /// live developer; `replaces` as for [`SsoStore::register_sso`]).
    fn link_subject(
        &self,
        portal_id: Uuid,
        issuer: &str,
        subject: &str,
        developer_id: Uuid,
        replaces: Option<Uuid>,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

/// The OpenID Connect relying party (adapter: [`crate::oidc`]).
pub trait OidcClient: Send + Sync {
    /// The authorization request for a provider (discovery cached).
    fn start(
        &self,
        idp: &crate::domain::IdentityProvider,
        redirect_uri: &str,
    ) -> impl Future<Output = Result<crate::domain::idp::AuthRequest, AppError>> + Send;
    /// The code exchange and the ID token's validation: its claims, or why it is refused.
    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        idp: &crate::domain::IdentityProvider,
        client_secret: String,
        redirect_uri: &str,
        code: &str,
        verifier: &str,
        nonce: &str,
    ) -> impl Future<Output = Result<Result<serde_json::Map<String, serde_json::Value>, crate::domain::idp::Refusal>, AppError>> + Send;
}

/// Webhook endpoints of a portal (items under the portal's partition).
pub trait WebhookStore: Send + Sync {
    /// Stores a new endpoint if its portal exists (else [`StoreError::NotFound`]).
    fn create_webhook(&self, webhook: &crate::domain::webhooks::Webhook) -> impl Future<Output = StoreResult<()>> + Send;
    fn get_webhook(&self, portal_id: Uuid, id: Uuid) -> impl Future<Output = StoreResult<Option<crate::domain::webhooks::Webhook>>> + Send;
    /// A portal's endpoints, oldest first (a portal has at most a few dozen).
    fn list_webhooks(&self, portal_id: Uuid) -> impl Future<Output = StoreResult<Vec<crate::domain::webhooks::Webhook>>> + Send;
    /// Replaces the endpoint if its stored version is still `webhook.version - 1`.
    fn update_webhook(&self, webhook: &crate::domain::webhooks::Webhook) -> impl Future<Output = StoreResult<()>> + Send;
    /// Deletes the endpoint if it still exists ([`StoreError::Conflict`] otherwise).
    fn delete_webhook(&self, portal_id: Uuid, id: Uuid) -> impl Future<Output = StoreResult<()>> + Send;
}

/// The health of webhook endpoints, as the delivery worker keeps it.
pub trait WebhookHealthStore: Send + Sync {
    /// Starts the failing clock (`Some`, only if not already running) or stops it (`None`);
    /// neither changes the endpoint's version.
    fn set_failing_since(
        &self,
        portal_id: Uuid,
        webhook_id: Uuid,
        since: Option<crate::domain::Timestamp>,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Writes the disabled endpoint (stored version still `webhook.version - 1`) and its
    /// `webhook.disabled` event together; `false` (nothing written) when the endpoint changed
    /// meanwhile.
    fn disable_webhook(
        &self,
        webhook: &crate::domain::webhooks::Webhook,
        event: &LifecycleEvent,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
}

/// Webhook deliveries, one per (endpoint, event), and the events they carry.
pub trait DeliveryStore: Send + Sync {
    /// Stores a new delivery; `false` (and nothing written) when it exists already, e.g. for
    /// a stream record seen twice.
    fn create_delivery(&self, delivery: &crate::domain::delivery::Delivery) -> impl Future<Output = StoreResult<bool>> + Send;
    fn get_delivery(
        &self,
        webhook_id: Uuid,
        event_id: Uuid,
    ) -> impl Future<Output = StoreResult<Option<crate::domain::delivery::Delivery>>> + Send;
    /// Replaces the delivery if its stored version is still `delivery.version - 1`.
    fn update_delivery(&self, delivery: &crate::domain::delivery::Delivery) -> impl Future<Output = StoreResult<()>> + Send;
    /// The pending deliveries to `webhook_id` about `developer_id` of events older than
    /// `event_id`, oldest first (at most a page).
    fn older_pending(
        &self,
        webhook_id: Uuid,
        developer_id: Uuid,
        event_id: Uuid,
    ) -> impl Future<Output = StoreResult<Vec<crate::domain::delivery::Delivery>>> + Send;
    /// An event still kept.
    fn get_event(&self, event_id: Uuid) -> impl Future<Output = StoreResult<Option<LifecycleEvent>>> + Send;
}

/// A page of an endpoint's deliveries, newest first, optionally of one status.
#[derive(Debug, Clone)]
pub struct DeliveryQuery {
    pub webhook_id: Uuid,
    pub status: Option<crate::domain::delivery::DeliveryStatus>,
    pub limit: usize,
    pub cursor: Option<String>,
}

/// The deliveries list (a `Query` of the endpoint's partition, no index).
pub trait DeliveryLog: Send + Sync {
    fn list_deliveries(&self, query: &DeliveryQuery) -> impl Future<Output = StoreResult<Page<crate::domain::delivery::Delivery>>> + Send;
}

/// Replays of an endpoint (items in its partition) and the portal's event feed they walk.
pub trait ReplayStore: Send + Sync {
    /// Stores a new replay (`attribute_not_exists(pk)`).
    fn create_replay(&self, replay: &crate::domain::replay::Replay) -> impl Future<Output = StoreResult<()>> + Send;
    fn get_replay(&self, webhook_id: Uuid, id: Uuid) -> impl Future<Output = StoreResult<Option<crate::domain::replay::Replay>>> + Send;
    /// Replaces the replay if its stored version is still `replay.version - 1`
    /// ([`StoreError::Conflict`] otherwise: another copy of the step took it).
    fn update_replay(&self, replay: &crate::domain::replay::Replay) -> impl Future<Output = StoreResult<()>> + Send;
    /// Up to `limit` kept events of the portal in `[since, until]`, oldest first, after the
    /// event `after` (the portal's feed, gsi2).
    fn feed_after(
        &self,
        portal_id: Uuid,
        since: Timestamp,
        until: Timestamp,
        after: Option<Uuid>,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Vec<LifecycleEvent>>> + Send;
}
