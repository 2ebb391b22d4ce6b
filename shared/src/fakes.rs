//! An in-memory store for unit tests of the use cases over the ports (sign-in, throttling).
//! It claims nothing about DynamoDB: conditional writes are modelled by one lock, and every
//! call is recorded so tests can compare the work two paths do.

use std::collections::HashMap;
use std::sync::Mutex;

use uuid::Uuid;

use crate::domain::*;
use crate::store::*;
use crate::throttle::Counter;

#[derive(Default)]
pub struct MemStore {
    pub portals: Mutex<HashMap<Uuid, Portal>>,
    pub developers: Mutex<HashMap<Uuid, Developer>>,
    /// (portal, normalized email or lower-cased username) → developer.
    pub logins: Mutex<HashMap<(Uuid, String), Uuid>>,
    pub counters: Mutex<HashMap<String, (u64, HashMap<String, u64>)>>,
    pub sessions: Mutex<Vec<Session>>,
    /// Every call, in order: its name and, for reads and writes by key, what kind of item.
    pub calls: Mutex<Vec<String>>,
}

impl MemStore {
    fn record(&self, call: &str) {
        self.calls.lock().unwrap().push(call.to_string());
    }

    pub fn take_calls(&self) -> Vec<String> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }

    pub fn add_portal(&self, portal: Portal) {
        self.portals.lock().unwrap().insert(portal.id, portal);
    }

    pub fn add_developer(&self, d: Developer) {
        if let Some(e) = &d.email_norm {
            self.logins.lock().unwrap().insert((d.portal_id, e.clone()), d.id);
        }
        if let Some(u) = &d.username {
            self.logins.lock().unwrap().insert((d.portal_id, u.to_lowercase()), d.id);
        }
        self.developers.lock().unwrap().insert(d.id, d);
    }

    pub fn count(&self, key: &str) -> u64 {
        self.counters.lock().unwrap().get(key).map_or(0, |c| c.0)
    }
}

impl PortalStore for MemStore {
    async fn create_portal(&self, portal: &Portal) -> StoreResult<()> {
        self.add_portal(portal.clone());
        Ok(())
    }
    async fn get_portal(&self, id: Uuid) -> StoreResult<Option<Portal>> {
        self.record("get portal");
        Ok(self.portals.lock().unwrap().get(&id).cloned())
    }
    async fn update_portal(&self, portal: &Portal) -> StoreResult<()> {
        self.add_portal(portal.clone());
        Ok(())
    }
}

impl DeveloperStore for MemStore {
    async fn register(&self, new: &NewDeveloper) -> Result<(), RegisterError> {
        self.record("register");
        self.add_developer(new.developer.clone());
        Ok(())
    }
    async fn get_developer(&self, id: Uuid) -> StoreResult<Option<Developer>> {
        self.record("get developer");
        Ok(self.developers.lock().unwrap().get(&id).cloned())
    }
    async fn change_developer(&self, change: &DeveloperChange) -> StoreResult<()> {
        self.record("change developer");
        let mut devs = self.developers.lock().unwrap();
        match devs.get(&change.before.id) {
            Some(d) if d.version == change.before.version => {
                devs.insert(change.after.id, change.after.clone());
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }
    async fn delete_developer(&self, developer: &Developer, _event: &LifecycleEvent) -> StoreResult<()> {
        self.developers.lock().unwrap().remove(&developer.id);
        Ok(())
    }
    async fn list_developers(&self, _query: &DeveloperQuery) -> StoreResult<Page<Developer>> {
        unimplemented!("not used by these tests")
    }
    async fn count_developers(&self, _portal_id: Uuid) -> StoreResult<Option<StateCounts>> {
        unimplemented!("not used by these tests")
    }
}

impl SessionStore for MemStore {
    async fn put_session(&self, session: &Session) -> StoreResult<()> {
        self.record("put session");
        self.sessions.lock().unwrap().push(session.clone());
        Ok(())
    }
    async fn session_and_developer(&self, developer_id: Uuid, token_hash: &str) -> StoreResult<(Option<Session>, Option<Developer>)> {
        self.record("get session and developer");
        let s = self.sessions.lock().unwrap().iter().find(|s| s.developer_id == developer_id && s.token_hash == token_hash).cloned();
        Ok((s, self.developers.lock().unwrap().get(&developer_id).cloned()))
    }
    async fn delete_session(&self, developer_id: Uuid, token_hash: &str) -> StoreResult<()> {
        self.sessions.lock().unwrap().retain(|s| !(s.developer_id == developer_id && s.token_hash == token_hash));
        Ok(())
    }
    async fn touch_developer(&self, developer_id: Uuid, now: Timestamp) -> StoreResult<()> {
        self.record("touch developer");
        if let Some(d) = self.developers.lock().unwrap().get_mut(&developer_id) {
            d.last_active_at = Some(now);
        }
        Ok(())
    }
    async fn find_login(&self, portal_id: Uuid, login_norm: &str, _by_email: bool) -> StoreResult<Option<Uuid>> {
        self.record("get login marker");
        Ok(self.logins.lock().unwrap().get(&(portal_id, login_norm.to_string())).copied())
    }
}

impl ThrottleStore for MemStore {
    async fn reserve(&self, c: &Counter) -> StoreResult<Option<u64>> {
        // Let other tasks run first, as a network round trip would.
        tokio::task::yield_now().await;
        let mut parts = c.key.split('#');
        let (action, scope) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
        let scope = if matches!(scope, "client" | "portal") { scope } else { "account" };
        self.record(&format!("reserve {action} {scope}"));
        let mut counters = self.counters.lock().unwrap();
        let (total, subs) = counters.entry(c.key.clone()).or_default();
        let sub_ok = c.sub.as_ref().is_none_or(|(name, limit)| subs.get(name).copied().unwrap_or(0) < *limit);
        if *total >= c.limit || !sub_ok {
            return Ok(None);
        }
        *total += 1;
        if let Some((name, _)) = &c.sub {
            *subs.entry(name.clone()).or_default() += 1;
        }
        Ok(Some(*total))
    }
    async fn release(&self, c: &Counter, forget_sub: bool) -> StoreResult<()> {
        self.record("release");
        let mut counters = self.counters.lock().unwrap();
        if let Some((total, subs)) = counters.get_mut(&c.key) {
            *total = total.saturating_sub(1);
            if let Some((name, _)) = &c.sub {
                if forget_sub {
                    subs.remove(name);
                } else if let Some(n) = subs.get_mut(name) {
                    *n = n.saturating_sub(1);
                }
            }
        }
        Ok(())
    }
}

/// A configuration for tests (deployment limits at their defaults).
pub fn config() -> crate::app::Config {
    crate::app::Config {
        table: "test".into(),
        sender: "no-reply@test.example".into(),
        portal_url: None,
        allowed_sender_domains: vec![crate::domain::types::Domain::parse("test.example").unwrap()],
        token_secret: crate::app::TokenSecret::new("a test secret of at least thirty-two bytes").unwrap(),
        session_ttl_seconds: 3600,
        allow_clock_override: false,
        mail_retry_seconds: 1,
        rate_limits: crate::throttle::RateLimits::default(),
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
    let mut d = crate::service::new_developer(
        origin,
        portal.id,
        email.as_ref(),
        username.as_ref(),
        &name,
        state,
        hash.to_string(),
        chrono::Utc::now(),
    );
    d.email_verified = origin == Origin::Invited;
    d
}

impl EventLog for MemStore {
    async fn record_event(&self, event: &LifecycleEvent, _dedupe: bool) -> StoreResult<bool> {
        self.record(&format!("put event {:?} developer {}", event.event_type, event.developer_id.is_some()));
        Ok(true)
    }
}
