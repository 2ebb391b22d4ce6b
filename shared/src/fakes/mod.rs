//! An in-memory implementation of every port, for unit tests of the use cases. It claims
//! nothing about DynamoDB's performance, but honours the same conditions: one mutex stands in
//! for a transaction (every write checks its conditions and applies all its items while holding
//! it, or none), versions are checked as the adapter checks them, markers keep emails,
//! usernames and pending invites unique, link tokens are single use, and the mail ledger has
//! the same lease. Every call is recorded so tests can compare the work two paths do.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;
use uuid::Uuid;

use crate::domain::*;
use crate::error::BoxError;
use crate::mail::{Mailer, OutgoingMail, SendError};
use crate::store::*;
use crate::throttle::Counter;

/// A mail marker: `sending` until its lease ends, then `sent` or `failed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Marker {
    Sending { lease_until: i64 },
    Sent { message_id: String },
    Failed { reason: String },
}

/// A throttle counter: its total and its per-client counts.
type CounterEntry = (u64, HashMap<String, u64>);

#[derive(Default)]
pub struct MemStore {
    /// The transaction lock: held by every write for all its checks and items.
    tx: Mutex<()>,
    pub portals: Mutex<HashMap<Uuid, Portal>>,
    pub developers: Mutex<HashMap<Uuid, Developer>>,
    /// (portal, normalized email or lower-cased username) → developer.
    pub logins: Mutex<HashMap<(Uuid, String), Uuid>>,
    pub counters: Mutex<HashMap<String, CounterEntry>>,
    pub sessions: Mutex<Vec<Session>>,
    pub approvals: Mutex<HashMap<Uuid, Approval>>,
    pub events: Mutex<Vec<LifecycleEvent>>,
    /// Reasons recorded on events by `fail_mail` (the event's `mail_failures`).
    pub mail_failures: Mutex<HashMap<Uuid, Vec<(String, String)>>>,
    pub markers: Mutex<HashMap<(Uuid, String), Marker>>,
    pub invites: Mutex<HashMap<Uuid, Invite>>,
    /// (portal, normalized email) → the pending invite holding the address, and its expiry.
    pub invite_markers: Mutex<HashMap<(Uuid, String), (Uuid, Timestamp)>>,
    /// (developer, purpose) → the link and whether it was used.
    pub links: Mutex<HashMap<(Uuid, LinkPurpose), (LinkToken, bool)>>,
    pub teams: Mutex<HashMap<Uuid, Team>>,
    pub memberships: Mutex<Vec<(Uuid, Uuid)>>,
    pub apps: Mutex<HashMap<Uuid, Application>>,
    pub credentials: Mutex<Vec<Credential>>,
    pub admin_tokens: Mutex<Vec<AdminToken>>,
    pub console_sessions: Mutex<Vec<crate::store::ConsoleSession>>,
    pub console_results: Mutex<Vec<crate::store::ConsoleResult>>,
    /// Identity providers (single sign-on), by id.
    pub idps: Mutex<HashMap<Uuid, IdentityProvider>>,
    /// Started sign-ins by cookie hash, and (portal, issuer, subject) → developer.
    pub sso_flows: Mutex<HashMap<String, crate::domain::idp::SsoFlow>>,
    pub sso_subjects: Mutex<HashMap<(Uuid, String, String), Uuid>>,
    pub webhooks: Mutex<HashMap<Uuid, crate::domain::webhooks::Webhook>>,
    /// (webhook, event) → delivery.
    pub deliveries: Mutex<HashMap<(Uuid, Uuid), crate::domain::delivery::Delivery>>,
    /// (webhook, replay) → replay.
    pub replays: Mutex<HashMap<(Uuid, Uuid), crate::domain::replay::Replay>>,
    /// Every call, in order: its name and, for reads and writes by key, what kind of item.
    pub calls: Mutex<Vec<String>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl MemStore {
    fn record(&self, call: &str) {
        lock(&self.calls).push(call.to_string());
    }

    fn tx(&self) -> std::sync::MutexGuard<'_, ()> {
        lock(&self.tx)
    }

    pub fn take_calls(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.calls))
    }

    pub fn add_portal(&self, portal: Portal) {
        lock(&self.portals).insert(portal.id, portal);
    }

    pub fn add_developer(&self, d: Developer) {
        if let Some(e) = &d.email_norm {
            lock(&self.logins).insert((d.portal_id, e.clone()), d.id);
        }
        if let Some(u) = &d.username {
            lock(&self.logins).insert((d.portal_id, u.to_lowercase()), d.id);
        }
        lock(&self.developers).insert(d.id, d);
    }

    pub fn developer(&self, id: Uuid) -> Option<Developer> {
        lock(&self.developers).get(&id).cloned()
    }

    pub fn count(&self, key: &str) -> u64 {
        lock(&self.counters).get(key).map_or(0, |c| c.0)
    }

    /// The events written so far, oldest first.
    pub fn events(&self) -> Vec<LifecycleEvent> {
        lock(&self.events).clone()
    }

    /// The change record the stream delivers for an inserted event ([`OutboxFeed`] below).
    pub fn record_of(event: &LifecycleEvent) -> Value {
        serde_json::json!({ "eventName": "INSERT", "event": event })
    }
}

mod access;
mod accounts;
mod records;
mod sso;
pub use sso::{FakeOidc, FakeSealer};
mod webhooks;
pub use webhooks::{FakeQueue, FakeSender};

/// What the fake mailer does with the next sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Send {
    Deliver,
    FailTransiently,
    Reject,
}

/// A mailer that keeps what it sends, and fails as told (`plan`: one entry per send, then
/// deliveries).
#[derive(Default)]
pub struct MemMailer {
    pub sent: Mutex<Vec<OutgoingMail>>,
    pub plan: Mutex<std::collections::VecDeque<Send>>,
    pub attempts: Mutex<usize>,
}

impl MemMailer {
    pub fn failing(plan: impl IntoIterator<Item = Send>) -> Self {
        Self { plan: Mutex::new(plan.into_iter().collect()), ..Default::default() }
    }
    pub fn sent(&self) -> Vec<OutgoingMail> {
        lock(&self.sent).clone()
    }
}

impl Mailer for MemMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<String, SendError> {
        *lock(&self.attempts) += 1;
        match lock(&self.plan).pop_front().unwrap_or(Send::Deliver) {
            Send::Deliver => {
                lock(&self.sent).push(mail.clone());
                Ok(format!("message-{}", lock(&self.sent).len()))
            }
            Send::FailTransiently => Err(SendError::Transient("the provider is unavailable".into())),
            Send::Reject => Err(SendError::Permanent("address rejected".into())),
        }
    }
}

/// A configuration for tests (deployment limits at their defaults).
pub fn config() -> crate::config::Config {
    crate::config::Config {
        table: "test".into(),
        sender: "no-reply@test.example".into(),
        portal_url: None,
        pages_url: None,
        allowed_sender_domains: vec![crate::domain::types::Domain::parse("test.example").unwrap()],
        token_secret: crate::config::TokenSecret::new("a test secret of at least thirty-two bytes").unwrap(),
        session_ttl_seconds: 3600,
        allow_clock_override: false,
        mail_retry_seconds: 1,
        consumer_concurrency: crate::config::DEFAULT_CONSUMER_CONCURRENCY,
        rate_limits: crate::throttle::RateLimits::default(),
        token_secret_arn: None,
        clock_offset_seconds: 0,
        ses_configuration_set: None,
        origin_verify: None,
        authorizer_portal: None,
        route_products: String::new(),
        kms_key_id: None,
        sso_allow_loopback_http: false,
        webhook_allow_loopback_http: false,
        webhook_queue_url: None,
        webhook_retry_schedule: Default::default(),
        webhook_disable_after_seconds: crate::domain::webhooks::DISABLE_AFTER_SECONDS,
        webhook_rotation_overlap_seconds: crate::domain::webhooks::ROTATION_OVERLAP_SECONDS,
    }
}

pub fn portal(settings: PortalSettings) -> Portal {
    let now = chrono::Utc::now();
    Portal { id: Uuid::new_v4(), name: "Test".into(), settings, created_at: now, updated_at: now, version: 1 }
}

/// A developer of `portal` with this password hash, as `origin` creates one.
pub fn developer(
    portal: &Portal,
    origin: Origin,
    email: Option<&str>,
    username: Option<&str>,
    state: DeveloperState,
    hash: &str,
) -> Developer {
    let email = email.map(|e| Email::parse(e).unwrap());
    let username = username.map(|u| Username::parse(u).unwrap());
    let name = PersonName::parse("Test Developer").unwrap();
    let mut d =
        Developer::new_builtin(origin, portal.id, email.as_ref(), username.as_ref(), &name, state, hash.to_string(), chrono::Utc::now());
    d.email_verified = origin == Origin::Invited;
    d
}

/// Stores a team as it is (tests that need a team without the use case).
pub fn lock_insert_team(store: &MemStore, team: Team) {
    lock(&store.teams).insert(team.id, team);
}
