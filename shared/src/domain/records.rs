//! The records a developer's account owns besides itself: invites, sessions, link tokens,
//! teams, applications and their credentials.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::model::{versioned, Timestamp, Versioned};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InviteStatus {
    Pending,
    Accepted,
    Withdrawn,
    /// Never stored: a pending invite past its expiry is shown as expired.
    Expired,
}

impl InviteStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Withdrawn => "withdrawn",
            Self::Expired => "expired",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "pending" => Ok(Self::Pending),
            "accepted" => Ok(Self::Accepted),
            "withdrawn" => Ok(Self::Withdrawn),
            "expired" => Ok(Self::Expired),
            _ => Err("must be one of pending, accepted, withdrawn, expired".into()),
        }
    }
}

/// A registration-link invite. Its token is derived from `nonce` with the server secret and
/// stored only as `token_hash`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invite {
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

impl Invite {
    /// The status as clients see it: a pending invite past its expiry is `expired`.
    pub fn status_at(&self, now: Timestamp) -> InviteStatus {
        if self.status == InviteStatus::Pending && self.expires_at <= now {
            InviteStatus::Expired
        } else {
            self.status
        }
    }

    pub fn view(&self, now: Timestamp) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "email": self.email,
            "status": self.status_at(now),
            "expires_at": self.expires_at,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "developer_id": self.accepted_by,
        })
    }
}

/// A developer session: stored by token hash in the developer's item collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub developer_id: Uuid,
    pub portal_id: Uuid,
    pub token_hash: String,
    pub epoch: u64,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A single-use link token (password reset, email verification) of one developer. At most one
/// per purpose: issuing a new one replaces (voids) the old. The token is derived from `nonce`
/// with the server secret; only its hash is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkToken {
    pub developer_id: Uuid,
    pub portal_id: Uuid,
    pub purpose: LinkPurpose,
    pub nonce: String,
    pub token_hash: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkPurpose {
    Reset,
    Verify,
}

impl LinkPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reset => "reset",
            Self::Verify => "verify",
        }
    }
}

/// A team of developers in a portal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Team {
    pub id: Uuid,
    pub portal_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub created_at: Timestamp,
}

/// A developer's application; `products` are the API products it is subscribed to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Application {
    pub id: Uuid,
    pub portal_id: Uuid,
    pub developer_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub products: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: u64,
}

impl Application {
    pub fn view(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "portal_id": self.portal_id,
            "developer_id": self.developer_id,
            "name": self.name,
            "description": self.description,
            "products": self.products,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }
}

/// An API key of an application, stored by hash in its developer's item collection. The key
/// names its developer and application (`ghk_<developer><application>.<secret>`), so the
/// authorizer reads key, developer and application in one round trip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Credential {
    pub id: Uuid,
    pub portal_id: Uuid,
    pub developer_id: Uuid,
    pub application_id: Uuid,
    pub key_hash: String,
    /// The first characters of the key, to recognise it in lists.
    pub key_prefix: String,
    pub created_at: Timestamp,
}

impl Credential {
    pub fn view(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "application_id": self.application_id,
            "key_prefix": self.key_prefix,
            "created_at": self.created_at,
        })
    }
}

versioned!(Invite, Application);
