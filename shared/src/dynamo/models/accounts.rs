//! The items of a developer's collection (`pk = DEV#<id>`) and its uniqueness markers.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{epoch, Model};
use crate::domain::{
    Application, Credential, Developer, DeveloperState, LinkPurpose, LinkToken, Origin, Provider, Session, Team, Timestamp,
};
use crate::dynamo::keys::{self, kind};

/// A developer's profile (`sk = PROFILE`), in the state, list and search indexes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct DeveloperItem {
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
    /// Only with an address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi3pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi3sk: Option<String>,
    /// Only with a username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi4pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi4sk: Option<String>,
    #[serde(default)]
    pub gsi5pk: String,
    #[serde(default)]
    pub gsi5sk: String,
    pub id: Uuid,
    pub portal_id: Uuid,
    pub username: Option<String>,
    pub name: String,
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
    /// Also written alone by `touch_developer` (with microseconds).
    pub last_active_at: Option<Timestamp>,
    pub approval_id: Option<Uuid>,
    #[serde(default)]
    pub approval_ids: Vec<Uuid>,
    pub version: u64,
    #[serde(default)]
    pub session_epoch: u64,
    #[serde(default)]
    pub temporary_password_expires_at: Option<Timestamp>,
    #[serde(default)]
    pub invite_id: Option<Uuid>,
    /// Left out on records written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
}

impl Model for DeveloperItem {
    type Domain = Developer;

    fn from_domain(d: &Developer) -> Self {
        let (p, id) = (d.portal_id, d.id);
        Self {
            pk: keys::developer(id),
            sk: keys::PROFILE.into(),
            kind: kind::DEVELOPER.into(),
            gsi1pk: keys::by_state(p, d.state),
            gsi1sk: id.to_string(),
            gsi2pk: keys::all_developers(p),
            gsi2sk: id.to_string(),
            gsi3pk: d.email_norm.as_ref().map(|_| keys::search(p, keys::SEARCH_EMAIL)),
            gsi3sk: d.email_norm.as_ref().map(|e| keys::search_sort(e, id)),
            gsi4pk: d.username.as_ref().map(|_| keys::search(p, keys::SEARCH_USERNAME)),
            gsi4sk: d.username.as_ref().map(|u| keys::search_sort(&u.to_lowercase(), id)),
            gsi5pk: keys::search(p, keys::SEARCH_NAME),
            gsi5sk: keys::search_sort(&d.name.to_lowercase(), id),
            id,
            portal_id: p,
            username: d.username.clone(),
            name: d.name.clone(),
            email: d.email.clone(),
            email_norm: d.email_norm.clone(),
            email_verified: d.email_verified,
            state: d.state,
            provider: d.provider,
            must_change_password: d.must_change_password,
            password_hash: d.password_hash.clone(),
            teams: d.teams.clone(),
            application_count: d.application_count,
            created_at: d.created_at,
            updated_at: d.updated_at,
            last_active_at: d.last_active_at,
            approval_id: d.approval_id,
            approval_ids: d.approval_ids.clone(),
            version: d.version,
            session_epoch: d.session_epoch,
            temporary_password_expires_at: d.temporary_password_expires_at,
            invite_id: d.invite_id,
            origin: d.stored_origin,
        }
    }

    fn into_domain(self) -> Developer {
        Developer {
            id: self.id,
            portal_id: self.portal_id,
            username: self.username,
            name: self.name,
            email: self.email,
            email_norm: self.email_norm,
            email_verified: self.email_verified,
            state: self.state,
            provider: self.provider,
            must_change_password: self.must_change_password,
            password_hash: self.password_hash,
            teams: self.teams,
            application_count: self.application_count,
            created_at: self.created_at,
            updated_at: self.updated_at,
            last_active_at: self.last_active_at,
            approval_id: self.approval_id,
            approval_ids: self.approval_ids,
            version: self.version,
            session_epoch: self.session_epoch,
            temporary_password_expires_at: self.temporary_password_expires_at,
            invite_id: self.invite_id,
            stored_origin: self.origin,
        }
    }
}

/// An email or username taken in a portal (`sk = UNIQUE`): who holds it, and their address
/// (so a registration that collides can tell the owner without another read).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LoginMarker {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub developer_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl LoginMarker {
    pub fn new(pk: String, d: &Developer) -> Self {
        Self { pk, sk: keys::UNIQUE.into(), kind: kind::UNIQUE.into(), developer_id: d.id, email: d.email.clone() }
    }
}

/// A team name taken in a portal (case-insensitive).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct TeamNameMarker {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub team_id: Uuid,
}

impl TeamNameMarker {
    pub fn new(t: &Team) -> Self {
        Self { pk: keys::team_name_marker(t.portal_id, &t.name), sk: keys::UNIQUE.into(), kind: kind::UNIQUE.into(), team_id: t.id }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SessionItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    #[serde(default)]
    pub ttl: i64,
    pub developer_id: Uuid,
    pub portal_id: Uuid,
    pub token_hash: String,
    pub epoch: u64,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

impl Model for SessionItem {
    type Domain = Session;

    fn from_domain(se: &Session) -> Self {
        Self {
            pk: keys::developer(se.developer_id),
            sk: keys::session(&se.token_hash),
            kind: kind::SESSION.into(),
            ttl: epoch(se.expires_at),
            developer_id: se.developer_id,
            portal_id: se.portal_id,
            token_hash: se.token_hash.clone(),
            epoch: se.epoch,
            created_at: se.created_at,
            expires_at: se.expires_at,
        }
    }

    fn into_domain(self) -> Session {
        Session {
            developer_id: self.developer_id,
            portal_id: self.portal_id,
            token_hash: self.token_hash,
            epoch: self.epoch,
            created_at: self.created_at,
            expires_at: self.expires_at,
        }
    }
}

/// A link token (`sk = LINK#<purpose>`). A used one stays until its expiry with no nonce and
/// no hash and `link_used`, so a replay of its request cannot issue it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LinkItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    #[serde(default)]
    pub ttl: i64,
    /// When the request that issued it was made (orders links of racing requests).
    #[serde(default)]
    pub requested_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_used: Option<bool>,
    pub developer_id: Uuid,
    pub portal_id: Uuid,
    pub purpose: LinkPurpose,
    pub nonce: String,
    pub token_hash: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

impl LinkItem {
    /// What a used link leaves behind.
    pub fn used(l: &LinkToken) -> Self {
        Self { nonce: String::new(), token_hash: String::new(), link_used: Some(true), ..Self::from_domain(l) }
    }
}

impl Model for LinkItem {
    type Domain = LinkToken;

    fn from_domain(l: &LinkToken) -> Self {
        Self {
            pk: keys::developer(l.developer_id),
            sk: keys::link(l.purpose),
            kind: kind::LINK.into(),
            ttl: epoch(l.expires_at),
            requested_ms: l.created_at.timestamp_millis(),
            link_used: None,
            developer_id: l.developer_id,
            portal_id: l.portal_id,
            purpose: l.purpose,
            nonce: l.nonce.clone(),
            token_hash: l.token_hash.clone(),
            created_at: l.created_at,
            expires_at: l.expires_at,
        }
    }

    fn into_domain(self) -> LinkToken {
        LinkToken {
            developer_id: self.developer_id,
            portal_id: self.portal_id,
            purpose: self.purpose,
            nonce: self.nonce,
            token_hash: self.token_hash,
            created_at: self.created_at,
            expires_at: self.expires_at,
        }
    }
}

/// A team (`pk = TEAM#<id>`), listed in its portal's gsi2 partition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct TeamItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    #[serde(default)]
    pub gsi2pk: String,
    #[serde(default)]
    pub gsi2sk: String,
    pub id: Uuid,
    pub portal_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub created_at: Timestamp,
}

impl Model for TeamItem {
    type Domain = Team;

    fn from_domain(t: &Team) -> Self {
        Self {
            pk: keys::team(t.id),
            sk: keys::TEAM_SK.into(),
            kind: kind::TEAM.into(),
            gsi2pk: keys::teams(t.portal_id),
            gsi2sk: t.id.to_string(),
            id: t.id,
            portal_id: t.portal_id,
            name: t.name.clone(),
            description: t.description.clone(),
            created_at: t.created_at,
        }
    }

    fn into_domain(self) -> Team {
        Team { id: self.id, portal_id: self.portal_id, name: self.name, description: self.description, created_at: self.created_at }
    }
}

/// A developer's membership of a team (`sk = TEAM#<id>`), listed in the team's gsi1 partition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct MembershipItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub team_id: Uuid,
    pub developer_id: Uuid,
    pub gsi1pk: String,
    pub gsi1sk: String,
}

impl MembershipItem {
    pub fn new(team: &Team, developer: Uuid) -> Self {
        Self {
            pk: keys::developer(developer),
            sk: keys::team(team.id),
            kind: kind::MEMBERSHIP.into(),
            team_id: team.id,
            developer_id: developer,
            gsi1pk: keys::members(team.id),
            gsi1sk: developer.to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct AppItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
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

impl Model for AppItem {
    type Domain = Application;

    fn from_domain(a: &Application) -> Self {
        Self {
            pk: keys::developer(a.developer_id),
            sk: keys::app(a.id),
            kind: kind::APPLICATION.into(),
            id: a.id,
            portal_id: a.portal_id,
            developer_id: a.developer_id,
            name: a.name.clone(),
            description: a.description.clone(),
            products: a.products.clone(),
            created_at: a.created_at,
            updated_at: a.updated_at,
            version: a.version,
        }
    }

    fn into_domain(self) -> Application {
        Application {
            id: self.id,
            portal_id: self.portal_id,
            developer_id: self.developer_id,
            name: self.name,
            description: self.description,
            products: self.products,
            created_at: self.created_at,
            updated_at: self.updated_at,
            version: self.version,
        }
    }
}

/// An API key of an application (`sk = KEY#<hash>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CredentialItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub id: Uuid,
    pub portal_id: Uuid,
    pub developer_id: Uuid,
    pub application_id: Uuid,
    pub key_hash: String,
    pub key_prefix: String,
    pub created_at: Timestamp,
}

impl Model for CredentialItem {
    type Domain = Credential;

    fn from_domain(c: &Credential) -> Self {
        Self {
            pk: keys::developer(c.developer_id),
            sk: keys::api_key(&c.key_hash),
            kind: kind::CREDENTIAL.into(),
            id: c.id,
            portal_id: c.portal_id,
            developer_id: c.developer_id,
            application_id: c.application_id,
            key_hash: c.key_hash.clone(),
            key_prefix: c.key_prefix.clone(),
            created_at: c.created_at,
        }
    }

    fn into_domain(self) -> Credential {
        Credential {
            id: self.id,
            portal_id: self.portal_id,
            developer_id: self.developer_id,
            application_id: self.application_id,
            key_hash: self.key_hash,
            key_prefix: self.key_prefix,
            created_at: self.created_at,
        }
    }
}
