//! The records Gatehouse keeps, the views the API returns, and the lifecycle event log.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::settings::PortalSettings;
use super::types::{DeveloperState, Email, PersonName, Username};

pub type Timestamp = DateTime<Utc>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Builtin,
    Sso,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Portal {
    pub id: Uuid,
    pub name: String,
    pub settings: PortalSettings,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub version: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// A portal as the API shows it.
#[derive(Debug, Serialize)]
pub struct PortalView<'a> {
    pub id: Uuid,
    pub name: &'a str,
    pub settings: &'a PortalSettings,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Portal {
    pub fn view(&self) -> PortalView<'_> {
        PortalView { id: self.id, name: &self.name, settings: &self.settings, created_at: self.created_at, updated_at: self.updated_at }
    }
}

/// A developer account as stored. Holds the password hash: never serialize it to a client;
/// use [`Developer::view`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Developer {
    pub id: Uuid,
    pub portal_id: Uuid,
    pub username: Option<String>,
    pub name: String,
    /// Optional only for developers an admin created with a username and one-time password.
    pub email: Option<String>,
    pub email_norm: Option<String>,
    pub email_verified: bool,
    pub state: DeveloperState,
    pub provider: Provider,
    pub must_change_password: bool,
    pub password_hash: Option<String>,
    #[serde(default)]
    pub teams: Vec<String>,
    #[serde(default)]
    pub application_count: u32,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_active_at: Option<Timestamp>,
    /// The open approval request, while the developer is pending.
    pub approval_id: Option<Uuid>,
    /// Every approval request ever opened for this developer (deleted with it).
    #[serde(default)]
    pub approval_ids: Vec<Uuid>,
    /// Optimistic-concurrency version, bumped by every write.
    pub version: u64,
    /// Sessions carry the epoch they were issued in; bumping it ends every session at once
    /// (revocation, rejection, password change).
    #[serde(default)]
    pub session_epoch: u64,
    /// When the one-time password set by an admin stops working.
    #[serde(default)]
    pub temporary_password_expires_at: Option<Timestamp>,
    /// The invite this developer accepted (deleted with the developer).
    #[serde(default)]
    pub invite_id: Option<Uuid>,
    /// How the account was created; records written before it was kept infer it
    /// ([`Developer::origin`]).
    #[serde(default, rename = "origin", skip_serializing_if = "Option::is_none")]
    pub stored_origin: Option<Origin>,
}

/// How a developer account came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Self-registration: the address is the registrant's claim until confirmed.
    Registered,
    /// Accepting an invite: the link mailed to the address confirms it.
    Invited,
    /// Created by an admin with a username and one-time password (maybe without an address).
    Admin,
}

/// A developer as every API response shows it: no hash, no internals.
#[derive(Debug, Serialize)]
pub struct DeveloperView<'a> {
    pub id: Uuid,
    pub portal_id: Uuid,
    pub username: Option<&'a str>,
    pub name: &'a str,
    pub email: Option<&'a str>,
    pub email_verified: bool,
    pub state: DeveloperState,
    pub provider: Provider,
    pub must_change_password: bool,
    pub teams: &'a [String],
    pub application_count: u32,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_active_at: Option<Timestamp>,
}

/// The one rule for optimistic concurrency: every write of a versioned record stores the
/// version read plus one (and the time of the write); the store's condition is that the stored
/// version is still the one read (`version - 1` of what is written).
pub trait Versioned {
    fn version_mut(&mut self) -> &mut u64;
    fn updated_at_mut(&mut self) -> &mut Timestamp;

    /// Marks this record as the next version of the one read, written at `now`.
    fn bump(&mut self, now: Timestamp) {
        *self.version_mut() += 1;
        *self.updated_at_mut() = now;
    }

    /// This record as the next version, written at `now`.
    fn bumped(mut self, now: Timestamp) -> Self
    where
        Self: Sized,
    {
        self.bump(now);
        self
    }
}

macro_rules! versioned {
    ($($t:ty),*) => {$(
        impl Versioned for $t {
            fn version_mut(&mut self) -> &mut u64 {
                &mut self.version
            }
            fn updated_at_mut(&mut self) -> &mut Timestamp {
                &mut self.updated_at
            }
        }
    )*};
}
pub(crate) use versioned;

versioned!(Portal, Developer);

impl Developer {
    /// A new builtin developer record (version 1, no sessions yet).
    #[allow(clippy::too_many_arguments)]
    pub fn new_builtin(
        origin: Origin,
        portal_id: Uuid,
        email: Option<&Email>,
        username: Option<&Username>,
        name: &PersonName,
        state: DeveloperState,
        password_hash: String,
        now: Timestamp,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            portal_id,
            username: username.map(|u| u.as_str().to_string()),
            name: name.as_str().to_string(),
            email: email.map(|e| e.as_str().to_string()),
            email_norm: email.map(|e| e.normalized().to_string()),
            email_verified: false,
            state,
            provider: Provider::Builtin,
            must_change_password: false,
            password_hash: Some(password_hash),
            teams: vec![],
            application_count: 0,
            created_at: now,
            updated_at: now,
            last_active_at: None,
            approval_id: None,
            approval_ids: vec![],
            version: 1,
            session_epoch: 0,
            temporary_password_expires_at: None,
            invite_id: None,
            stored_origin: Some(origin),
        }
    }

    /// The developer with a new password: the one-time password requirement is gone and every
    /// session ends (the session epoch moves on).
    pub fn with_new_password(&self, password_hash: String) -> Self {
        let mut after = self.clone();
        after.password_hash = Some(password_hash);
        after.must_change_password = false;
        after.temporary_password_expires_at = None;
        after.session_epoch += 1;
        after
    }

    /// How the account was created. Older records did not keep it: an accepted invite means
    /// invited, an approval request opened at creation means self-registered, else an admin.
    pub fn origin(&self) -> Origin {
        self.stored_origin.unwrap_or(if self.invite_id.is_some() {
            Origin::Invited
        } else if self.approval_ids.is_empty() {
            Origin::Admin
        } else {
            Origin::Registered
        })
    }

    /// Whether signing in waits for the address to be confirmed (with `require_verified_email`):
    /// only self-registered developers, until they follow the verification (or a reset) link.
    pub fn must_confirm_email(&self) -> bool {
        self.origin() == Origin::Registered && !self.email_verified
    }

    pub fn view(&self) -> DeveloperView<'_> {
        DeveloperView {
            id: self.id,
            portal_id: self.portal_id,
            username: self.username.as_deref(),
            name: &self.name,
            email: self.email.as_deref(),
            email_verified: self.email_verified,
            state: self.state,
            provider: self.provider,
            must_change_password: self.must_change_password,
            teams: &self.teams,
            application_count: self.application_count,
            created_at: self.created_at,
            updated_at: self.updated_at,
            last_active_at: self.last_active_at,
        }
    }

    pub fn snapshot(&self) -> DeveloperSnapshot {
        DeveloperSnapshot { email: self.email.clone(), name: self.name.clone(), username: self.username.clone() }
    }
}

/// Who a developer was when something happened to them (kept on approvals and events, so
/// mail can be written without another read).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeveloperSnapshot {
    pub email: Option<String>,
    pub name: String,
    pub username: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApprovalStatus {
    Pending,
    Accepted,
    Rejected,
}

impl ApprovalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Rejected => "rejected",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "pending" => Ok(Self::Pending),
            "accepted" | "approved" => Ok(Self::Accepted),
            "rejected" => Ok(Self::Rejected),
            _ => Err("must be one of pending, accepted, rejected".into()),
        }
    }
}

pub const APPROVAL_EVENT_REGISTRATION: &str = "developer_registration";

/// An approval request; also exactly the API's view of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    pub id: Uuid,
    pub event: String,
    pub status: ApprovalStatus,
    pub portal_id: Uuid,
    pub developer_id: Uuid,
    pub developer: DeveloperSnapshot,
    pub created_at: Timestamp,
    pub decided_at: Option<Timestamp>,
    pub decided_by: Option<String>,
}

impl Approval {
    /// The registration approval request a pending developer's open `approval_id` names.
    pub fn for_registration(d: &Developer, now: Timestamp) -> Self {
        Self {
            id: d.approval_id.expect("a pending developer has an open approval"),
            event: APPROVAL_EVENT_REGISTRATION.into(),
            status: ApprovalStatus::Pending,
            portal_id: d.portal_id,
            developer_id: d.id,
            developer: d.snapshot(),
            created_at: now,
            decided_at: None,
            decided_by: None,
        }
    }
}

/// What happened in a developer's lifecycle. The event log doubles as the outbox: the stream
/// consumer reacts to each inserted event (auto-approval, mail), and the same items serve an
/// audit trail and, later, webhooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "developer.registered")]
    Registered,
    /// Somebody tried to register with an address that already has an account.
    #[serde(rename = "developer.registration_attempted")]
    RegistrationAttempted,
    #[serde(rename = "developer.approved")]
    Approved,
    #[serde(rename = "developer.rejected")]
    Rejected,
    #[serde(rename = "developer.revoked")]
    Revoked,
    /// Sent back to pending (from rejected or revoked).
    #[serde(rename = "developer.pending")]
    Pending,
    #[serde(rename = "developer.updated")]
    Updated,
    #[serde(rename = "developer.deleted")]
    Deleted,
    /// Created by an admin with a username and one-time password (approved at once).
    #[serde(rename = "developer.created")]
    Created,
    /// Created by accepting an invite (approved at once).
    #[serde(rename = "developer.invite_accepted")]
    InviteAccepted,
    #[serde(rename = "developer.password_changed")]
    PasswordChanged,
    /// A registration-link invite was sent (or re-sent): the consumer mails the link.
    #[serde(rename = "invite.sent")]
    InviteSent,
    #[serde(rename = "invite.withdrawn")]
    InviteWithdrawn,
    /// A password reset link was issued (voiding any older one): the consumer mails it.
    #[serde(rename = "developer.password_reset_requested")]
    ResetRequested,
    /// The password was reset with a link (every session ended).
    #[serde(rename = "developer.password_reset")]
    PasswordReset,
    #[serde(rename = "developer.email_verified")]
    EmailVerified,
    #[serde(rename = "developer.logged_in")]
    LoggedIn,
    /// A sign-in refused for a wrong password (or an unknown login: no developer then).
    #[serde(rename = "developer.login_failed")]
    LoginFailed,
    #[serde(rename = "team.member_added")]
    TeamMemberAdded,
    #[serde(rename = "team.member_removed")]
    TeamMemberRemoved,
    #[serde(rename = "application.created")]
    ApplicationCreated,
    #[serde(rename = "application.deleted")]
    ApplicationDeleted,
    #[serde(rename = "credential.created")]
    CredentialCreated,
    #[serde(rename = "credential.deleted")]
    CredentialDeleted,
    /// A test delivery asked for by an admin: delivered to its endpoint only.
    #[serde(rename = "webhook.test")]
    WebhookTest,
    /// A webhook endpoint failed every delivery for the whole period since its last success
    /// and was disabled (`GATEHOUSE_WEBHOOK_DISABLE_AFTER_SECONDS`); the admins are mailed.
    #[serde(rename = "webhook.disabled")]
    WebhookDisabled,
}

impl EventType {
    /// The event recorded when a developer enters `state`.
    pub fn entering(state: DeveloperState) -> Self {
        match state {
            DeveloperState::Pending => Self::Pending,
            DeveloperState::Approved => Self::Approved,
            DeveloperState::Rejected => Self::Rejected,
            DeveloperState::Revoked => Self::Revoked,
        }
    }
}

/// Who did something: `admin:<token id>`, `developer:<id>`, `system:<component>`, `anonymous`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Actor(pub String);

impl Actor {
    pub fn admin(token_id: &str) -> Self {
        Self(format!("admin:{token_id}"))
    }
    pub fn developer(id: Uuid) -> Self {
        Self(format!("developer:{id}"))
    }
    pub fn system(component: &str) -> Self {
        Self(format!("system:{component}"))
    }
    pub fn anonymous() -> Self {
        Self("anonymous".into())
    }
}

/// How long lifecycle events (and their delivery markers) are kept.
pub const EVENT_RETENTION_DAYS: i64 = 90;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LifecycleEvent {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub portal_id: Uuid,
    /// The developer concerned (none yet for invite events).
    pub developer_id: Option<Uuid>,
    pub actor: Actor,
    pub from_state: Option<DeveloperState>,
    pub to_state: Option<DeveloperState>,
    pub at: Timestamp,
    pub approval_id: Option<Uuid>,
    pub developer: DeveloperSnapshot,
    /// Free-form reason, e.g. which auto-approval rule applied.
    pub reason: Option<String>,
    /// For invite events: the invite, and the nonce its link token is derived from (the
    /// token itself is never stored; see `crypto::derive_token`).
    #[serde(default)]
    pub invite_id: Option<Uuid>,
    #[serde(default)]
    pub token_nonce: Option<String>,
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
    /// How long the event is kept (the portal's `audit_retention_days`; none: the default).
    /// Only the item's `ttl` holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u16>,
    /// What a team, application or credential event is about (never a key or its hash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<EventSubject>,
}

/// The record a team, application or credential event refers to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventSubject {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_id: Option<Uuid>,
    /// The team's or application's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The webhook endpoint of a `webhook.*` event (`webhook.test`, `webhook.disabled`), and its URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Since when every delivery to the endpoint failed (`webhook.disabled`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<Timestamp>,
}

impl LifecycleEvent {
    pub fn new(event_type: EventType, developer: &Developer, actor: Actor, at: Timestamp) -> Self {
        Self {
            developer_id: Some(developer.id),
            actor,
            approval_id: developer.approval_id,
            ..Self::of_nobody(event_type, developer.portal_id, developer.snapshot(), at)
        }
    }

    /// An event of a portal that names no developer (an anonymous actor): a reset request for an
    /// address, a sign-in for an unknown login.
    pub fn of_nobody(event_type: EventType, portal_id: Uuid, developer: DeveloperSnapshot, at: Timestamp) -> Self {
        Self {
            id: Uuid::now_v7(),
            event_type,
            portal_id,
            developer_id: None,
            actor: Actor::anonymous(),
            from_state: None,
            to_state: None,
            at,
            approval_id: None,
            developer,
            reason: None,
            invite_id: None,
            token_nonce: None,
            expires_at: None,
            retention_days: None,
            subject: None,
        }
    }

    /// `webhook.disabled`: the worker disabled an endpoint that failed every delivery since
    /// `failing_since`.
    pub fn webhook_disabled(webhook: &crate::domain::webhooks::Webhook, failing_since: Timestamp, at: Timestamp) -> Self {
        let nobody = DeveloperSnapshot { email: None, name: String::new(), username: None };
        Self {
            actor: Actor::system("webhook-delivery"),
            reason: Some("every delivery failed for the whole disabling period".into()),
            subject: Some(EventSubject {
                webhook_id: Some(webhook.id),
                url: Some(webhook.url.clone()),
                failing_since: Some(failing_since),
                ..EventSubject::default()
            }),
            ..Self::of_nobody(EventType::WebhookDisabled, webhook.portal_id, nobody, at)
        }
    }

    /// A developer's sign-in (`developer.logged_in`), by password or single sign-on.
    pub fn signed_in(developer: &Developer, at: Timestamp) -> Self {
        let mut e = Self::new(EventType::LoggedIn, developer, Actor::developer(developer.id), at);
        e.approval_id = None;
        e
    }

    /// An event about a record of the developer (team, application, credential).
    pub fn about(event_type: EventType, developer: &Developer, actor: Actor, subject: EventSubject, at: Timestamp) -> Self {
        let mut e = Self::new(event_type, developer, actor, at);
        e.approval_id = None;
        e.subject = Some(subject);
        e
    }

    /// Kept as long as this portal's settings say.
    pub fn kept_for(mut self, settings: &super::settings::PortalSettings) -> Self {
        self.retention_days = Some(settings.audit_retention_days());
        self
    }
}
