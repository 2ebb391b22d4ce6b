//! The records Gatehouse keeps, the views the API returns, and the lifecycle event log.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::settings::PortalSettings;
use super::types::DeveloperState;

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
        PortalView {
            id: self.id,
            name: &self.name,
            settings: &self.settings,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
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
    pub email: String,
    pub email_norm: String,
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
}

/// A developer as every API response shows it: no hash, no internals.
#[derive(Debug, Serialize)]
pub struct DeveloperView<'a> {
    pub id: Uuid,
    pub portal_id: Uuid,
    pub username: Option<&'a str>,
    pub name: &'a str,
    pub email: &'a str,
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

impl Developer {
    pub fn view(&self) -> DeveloperView<'_> {
        DeveloperView {
            id: self.id,
            portal_id: self.portal_id,
            username: self.username.as_deref(),
            name: &self.name,
            email: &self.email,
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
        DeveloperSnapshot {
            email: self.email.clone(),
            name: self.name.clone(),
            username: self.username.clone(),
        }
    }
}

/// Who a developer was when something happened to them (kept on approvals and events, so
/// mail can be written without another read).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeveloperSnapshot {
    pub email: String,
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
    pub developer_id: Uuid,
    pub actor: Actor,
    pub from_state: Option<DeveloperState>,
    pub to_state: Option<DeveloperState>,
    pub at: Timestamp,
    pub approval_id: Option<Uuid>,
    pub developer: DeveloperSnapshot,
    /// Free-form reason, e.g. which auto-approval rule applied.
    pub reason: Option<String>,
}

impl LifecycleEvent {
    pub fn new(event_type: EventType, developer: &Developer, actor: Actor, at: Timestamp) -> Self {
        Self {
            id: Uuid::now_v7(),
            event_type,
            portal_id: developer.portal_id,
            developer_id: developer.id,
            actor,
            from_state: None,
            to_state: None,
            at,
            approval_id: developer.approval_id,
            developer: developer.snapshot(),
            reason: None,
        }
    }
}
