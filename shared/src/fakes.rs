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

impl PortalStore for MemStore {
    async fn create_portal(&self, portal: &Portal) -> StoreResult<()> {
        let _tx = self.tx();
        if lock(&self.portals).contains_key(&portal.id) {
            return Err(StoreError::Conflict);
        }
        self.add_portal(portal.clone());
        Ok(())
    }
    async fn get_portal(&self, id: Uuid) -> StoreResult<Option<Portal>> {
        self.record("get portal");
        Ok(lock(&self.portals).get(&id).cloned())
    }
    async fn update_portal(&self, portal: &Portal) -> StoreResult<()> {
        let _tx = self.tx();
        match lock(&self.portals).get_mut(&portal.id) {
            Some(p) if p.version + 1 == portal.version => {
                *p = portal.clone();
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }
}

impl DeveloperStore for MemStore {
    async fn register(&self, new: &NewDeveloper) -> Result<(), RegisterError> {
        self.record("register");
        tokio::task::yield_now().await;
        let _tx = self.tx();
        let d = &new.developer;
        {
            let logins = lock(&self.logins);
            if let Some(e) = &d.email_norm {
                if let Some(owner) = logins.get(&(d.portal_id, e.clone())) {
                    let email = lock(&self.developers).get(owner).and_then(|o| o.email.clone());
                    return Err(RegisterError::EmailTaken(email.map(|email| (*owner, email))));
                }
            }
            if let Some(u) = &d.username {
                if logins.contains_key(&(d.portal_id, u.to_lowercase())) {
                    return Err(RegisterError::UsernameTaken);
                }
            }
        }
        if let Some(inv) = &new.accepted_invite {
            let mut invites = lock(&self.invites);
            match invites.get(&inv.id) {
                Some(i) if i.status == InviteStatus::Pending && i.token_hash == inv.token_hash && i.version + 1 == inv.version => {}
                _ => return Err(RegisterError::InviteUsed),
            }
            invites.insert(inv.id, inv.clone());
            lock(&self.invite_markers).remove(&(inv.portal_id, inv.email_norm.clone()));
        }
        if let Some(a) = &new.approval {
            lock(&self.approvals).insert(a.id, a.clone());
        }
        if let Some(link) = &new.verification {
            lock(&self.links).insert((link.developer_id, link.purpose), (link.clone(), false));
        }
        lock(&self.events).push(new.event.clone());
        self.add_developer(d.clone());
        Ok(())
    }
    async fn get_developer(&self, id: Uuid) -> StoreResult<Option<Developer>> {
        self.record("get developer");
        Ok(self.developer(id))
    }
    async fn change_developer(&self, change: &DeveloperChange) -> StoreResult<()> {
        self.record("change developer");
        // Let a racing request read the same version first, as a round trip would.
        tokio::task::yield_now().await;
        let _tx = self.tx();
        let (before, after) = (&change.before, &change.after);
        let mut devs = lock(&self.developers);
        match devs.get(&before.id) {
            Some(d) if d.version == before.version && d.state == before.state => {}
            _ => return Err(StoreError::Conflict),
        }
        let mut approvals = lock(&self.approvals);
        if let Some(dec) = &change.close_approval {
            if approvals.get(&dec.approval_id).is_some_and(|a| a.status != ApprovalStatus::Pending) {
                return Err(StoreError::Conflict);
            }
        }
        if let Some(a) = &change.open_approval {
            if approvals.contains_key(&a.id) {
                return Err(StoreError::Conflict);
            }
        }
        let mut links = lock(&self.links);
        if let Some(link) = &change.consume_link {
            match links.get(&(link.developer_id, link.purpose)) {
                Some((stored, false)) if stored.token_hash == link.token_hash => {}
                _ => return Err(StoreError::Conflict),
            }
        }
        let mut sessions = lock(&self.sessions);
        if let Some(keep) = &change.keep_session {
            if !sessions.iter().any(|s| s.developer_id == keep.developer_id && s.token_hash == keep.token_hash) {
                return Err(StoreError::Conflict);
            }
        }
        // Every condition holds: apply every item.
        devs.insert(after.id, after.clone());
        if let Some(dec) = &change.close_approval {
            if let Some(a) = approvals.get_mut(&dec.approval_id) {
                a.status = dec.status;
                a.decided_at = Some(dec.decided_at);
                a.decided_by = Some(dec.decided_by.clone());
            }
        }
        if let Some(a) = &change.open_approval {
            approvals.insert(a.id, a.clone());
        }
        if let Some(link) = &change.consume_link {
            links.insert((link.developer_id, link.purpose), (link.clone(), true));
        }
        if let Some(keep) = &change.keep_session {
            for s in sessions.iter_mut().filter(|s| s.developer_id == keep.developer_id && s.token_hash == keep.token_hash) {
                *s = keep.clone();
            }
        }
        if let Some(e) = &change.event {
            lock(&self.events).push(e.clone());
        }
        Ok(())
    }
    async fn delete_developer(&self, developer: &Developer, event: &LifecycleEvent) -> StoreResult<()> {
        self.record("delete developer");
        let _tx = self.tx();
        let mut devs = lock(&self.developers);
        match devs.get(&developer.id) {
            Some(d) if d.version == developer.version => {}
            _ => return Err(StoreError::Conflict),
        }
        devs.remove(&developer.id);
        lock(&self.logins).retain(|_, id| *id != developer.id);
        lock(&self.sessions).retain(|s| s.developer_id != developer.id);
        lock(&self.links).retain(|(id, _), _| *id != developer.id);
        if let Some(inv) = developer.invite_id {
            lock(&self.invites).remove(&inv);
        }
        lock(&self.events).push(event.clone());
        Ok(())
    }
    async fn list_developers(&self, query: &DeveloperQuery) -> StoreResult<Page<Developer>> {
        let mut items: Vec<Developer> = lock(&self.developers)
            .values()
            .filter(|d| d.portal_id == query.portal_id && query.state.is_none_or(|s| d.state == s))
            .filter(|d| {
                query.prefix.as_deref().is_none_or(|p| {
                    [d.email_norm.as_deref(), d.username.as_deref(), Some(d.name.as_str())]
                        .into_iter()
                        .flatten()
                        .any(|v| v.to_lowercase().starts_with(p))
                })
            })
            .cloned()
            .collect();
        items.sort_by_key(|d| d.id);
        let total = Some(items.len() as u64);
        items.truncate(query.limit);
        Ok(Page { items, total, next_cursor: None })
    }
    async fn count_developers(&self, portal_id: Uuid) -> StoreResult<Option<StateCounts>> {
        if !lock(&self.portals).contains_key(&portal_id) {
            return Ok(None);
        }
        let mut counts = StateCounts::default();
        for d in lock(&self.developers).values().filter(|d| d.portal_id == portal_id) {
            match d.state {
                DeveloperState::Pending => counts.pending += 1,
                DeveloperState::Approved => counts.approved += 1,
                DeveloperState::Rejected => counts.rejected += 1,
                DeveloperState::Revoked => counts.revoked += 1,
            }
        }
        Ok(Some(counts))
    }
}

impl ApprovalStore for MemStore {
    async fn get_approval(&self, id: Uuid) -> StoreResult<Option<Approval>> {
        Ok(lock(&self.approvals).get(&id).cloned())
    }
    async fn list_approvals(&self, query: &ApprovalQuery) -> StoreResult<Page<Approval>> {
        let mut items: Vec<Approval> = lock(&self.approvals)
            .values()
            .filter(|a| a.event == query.event && query.status.is_none_or(|s| a.status == s))
            .filter(|a| query.portal_id.is_none_or(|p| a.portal_id == p))
            .cloned()
            .collect();
        items.sort_by_key(|a| a.id);
        items.truncate(query.limit);
        Ok(Page { items, total: None, next_cursor: None })
    }
}

impl EventLog for MemStore {
    async fn record_event(&self, event: &LifecycleEvent, dedupe: bool) -> StoreResult<bool> {
        self.record(&format!("put event {:?} developer {}", event.event_type, event.developer_id.is_some()));
        let _tx = self.tx();
        let mut events = lock(&self.events);
        if events.iter().any(|e| e.id == event.id) {
            return if dedupe { Ok(false) } else { Err(StoreError::Conflict) };
        }
        events.push(event.clone());
        Ok(true)
    }
}

impl MailLedger for MemStore {
    async fn claim_mail(&self, event_id: Uuid, mail: &str, now: Timestamp, lease_seconds: i64) -> StoreResult<MailClaim> {
        self.record(&format!("claim mail {mail}"));
        let _tx = self.tx();
        let mut markers = lock(&self.markers);
        let key = (event_id, mail.to_string());
        match markers.get(&key) {
            Some(Marker::Sent { .. }) => Ok(MailClaim::AlreadySent),
            Some(Marker::Failed { .. }) => Ok(MailClaim::Failed),
            Some(Marker::Sending { lease_until }) if *lease_until >= now.timestamp() => Ok(MailClaim::InFlight),
            _ => {
                markers.insert(key, Marker::Sending { lease_until: now.timestamp() + lease_seconds });
                Ok(MailClaim::Acquired)
            }
        }
    }
    async fn complete_mail(&self, event_id: Uuid, mail: &str, message_id: &str, _now: Timestamp) -> StoreResult<()> {
        self.record(&format!("complete mail {mail}"));
        lock(&self.markers).insert((event_id, mail.to_string()), Marker::Sent { message_id: message_id.to_string() });
        Ok(())
    }
    async fn release_mail(&self, event_id: Uuid, mail: &str) -> StoreResult<()> {
        self.record(&format!("release mail {mail}"));
        let mut markers = lock(&self.markers);
        if matches!(markers.get(&(event_id, mail.to_string())), Some(Marker::Sending { .. })) {
            markers.remove(&(event_id, mail.to_string()));
        }
        Ok(())
    }
    async fn fail_mail(&self, event_id: Uuid, mail: &str, reason: &str, _now: Timestamp) -> StoreResult<()> {
        self.record(&format!("fail mail {mail}"));
        let _tx = self.tx();
        let mut markers = lock(&self.markers);
        if !matches!(markers.get(&(event_id, mail.to_string())), Some(Marker::Sending { .. })) {
            return Err(StoreError::Conflict);
        }
        markers.insert((event_id, mail.to_string()), Marker::Failed { reason: reason.to_string() });
        lock(&self.mail_failures).entry(event_id).or_default().push((mail.to_string(), reason.to_string()));
        Ok(())
    }
}

impl InviteStore for MemStore {
    async fn create_invite(&self, invite: &Invite, event: &LifecycleEvent, now: Timestamp) -> Result<(), InviteError> {
        self.record("create invite");
        let _tx = self.tx();
        let mut markers = lock(&self.invite_markers);
        let key = (invite.portal_id, invite.email_norm.clone());
        if markers.get(&key).is_some_and(|(_, expires)| *expires > now) {
            return Err(InviteError::AlreadyInvited);
        }
        markers.insert(key, (invite.id, invite.expires_at));
        lock(&self.invites).insert(invite.id, invite.clone());
        lock(&self.events).push(event.clone());
        Ok(())
    }
    async fn get_invite(&self, id: Uuid) -> StoreResult<Option<Invite>> {
        self.record("get invite");
        Ok(lock(&self.invites).get(&id).cloned())
    }
    async fn update_invite(&self, invite: &Invite, event: &LifecycleEvent) -> StoreResult<()> {
        self.record("update invite");
        let _tx = self.tx();
        let mut invites = lock(&self.invites);
        match invites.get(&invite.id) {
            Some(i) if i.version + 1 == invite.version => {}
            _ => return Err(StoreError::Conflict),
        }
        let key = (invite.portal_id, invite.email_norm.clone());
        if invite.status == InviteStatus::Withdrawn {
            lock(&self.invite_markers).remove(&key);
        } else {
            lock(&self.invite_markers).insert(key, (invite.id, invite.expires_at));
        }
        invites.insert(invite.id, invite.clone());
        lock(&self.events).push(event.clone());
        Ok(())
    }
    async fn list_invites(&self, query: &InviteQuery, now: Timestamp) -> StoreResult<Page<Invite>> {
        let mut items: Vec<Invite> = lock(&self.invites)
            .values()
            .filter(|i| i.portal_id == query.portal_id && query.status.is_none_or(|s| i.status_at(now) == s))
            .cloned()
            .collect();
        items.sort_by_key(|i| i.id);
        items.truncate(query.limit);
        Ok(Page { items, total: None, next_cursor: None })
    }
    async fn registered_emails(&self, portal_id: Uuid, emails: &[String]) -> StoreResult<Vec<String>> {
        let logins = lock(&self.logins);
        Ok(emails.iter().filter(|e| logins.contains_key(&(portal_id, (*e).clone()))).cloned().collect())
    }
}

impl SessionStore for MemStore {
    async fn put_session(&self, session: &Session) -> StoreResult<()> {
        self.record("put session");
        lock(&self.sessions).push(session.clone());
        Ok(())
    }
    async fn session_and_developer(&self, developer_id: Uuid, token_hash: &str) -> StoreResult<(Option<Session>, Option<Developer>)> {
        self.record("get session and developer");
        let s = lock(&self.sessions).iter().find(|s| s.developer_id == developer_id && s.token_hash == token_hash).cloned();
        Ok((s, self.developer(developer_id)))
    }
    async fn delete_session(&self, developer_id: Uuid, token_hash: &str) -> StoreResult<()> {
        lock(&self.sessions).retain(|s| !(s.developer_id == developer_id && s.token_hash == token_hash));
        Ok(())
    }
    async fn touch_developer(&self, developer_id: Uuid, now: Timestamp) -> StoreResult<()> {
        self.record("touch developer");
        if let Some(d) = lock(&self.developers).get_mut(&developer_id) {
            d.last_active_at = Some(now);
        }
        Ok(())
    }
    async fn find_login(&self, portal_id: Uuid, login_norm: &str, _by_email: bool) -> StoreResult<Option<Uuid>> {
        self.record("get login marker");
        Ok(lock(&self.logins).get(&(portal_id, login_norm.to_string())).copied())
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
        let mut counters = lock(&self.counters);
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
        let mut counters = lock(&self.counters);
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

impl LinkStore for MemStore {
    async fn put_link(&self, link: &LinkToken) -> StoreResult<bool> {
        self.record("put link");
        let _tx = self.tx();
        let approved = lock(&self.developers).get(&link.developer_id).is_some_and(|d| d.state == DeveloperState::Approved);
        let mut links = lock(&self.links);
        let key = (link.developer_id, link.purpose);
        let replaceable = match links.get(&key) {
            None => true,
            Some((old, used)) => old.created_at < link.created_at || (old.created_at == link.created_at && !used),
        };
        if !approved || !replaceable {
            return Ok(false);
        }
        links.insert(key, (link.clone(), false));
        Ok(true)
    }
    async fn link_and_developer(&self, developer_id: Uuid, purpose: LinkPurpose) -> StoreResult<(Option<LinkToken>, Option<Developer>)> {
        self.record("get link and developer");
        // A used link stays stored (so a replayed request cannot rewrite it) but opens nothing.
        let link = lock(&self.links).get(&(developer_id, purpose)).filter(|(_, used)| !used).map(|(l, _)| l.clone());
        Ok((link, self.developer(developer_id)))
    }
}

impl TeamStore for MemStore {
    async fn create_team(&self, team: &Team) -> StoreResult<()> {
        let _tx = self.tx();
        let mut teams = lock(&self.teams);
        if teams.values().any(|t| t.portal_id == team.portal_id && t.name.to_lowercase() == team.name.to_lowercase()) {
            return Err(StoreError::Conflict);
        }
        teams.insert(team.id, team.clone());
        Ok(())
    }
    async fn get_team(&self, id: Uuid) -> StoreResult<Option<Team>> {
        Ok(lock(&self.teams).get(&id).cloned())
    }
    async fn list_teams(&self, portal_id: Uuid, limit: usize, _cursor: Option<String>) -> StoreResult<Page<Team>> {
        let mut items: Vec<Team> = lock(&self.teams).values().filter(|t| t.portal_id == portal_id).cloned().collect();
        items.sort_by_key(|t| t.id);
        items.truncate(limit);
        Ok(Page { items, total: None, next_cursor: None })
    }
    async fn set_membership(&self, before: &Developer, after: &Developer, team: &Team, add: bool) -> StoreResult<()> {
        let _tx = self.tx();
        let mut devs = lock(&self.developers);
        let mut members = lock(&self.memberships);
        let exists = members.contains(&(team.id, before.id));
        if devs.get(&before.id).is_none_or(|d| d.version != before.version) || exists == add {
            return Err(StoreError::Conflict);
        }
        if add {
            members.push((team.id, before.id));
        } else {
            members.retain(|m| *m != (team.id, before.id));
        }
        devs.insert(after.id, after.clone());
        Ok(())
    }
    async fn team_members(&self, team_id: Uuid, limit: usize, _cursor: Option<String>) -> StoreResult<Page<Developer>> {
        let ids: Vec<Uuid> = lock(&self.memberships).iter().filter(|(t, _)| *t == team_id).map(|(_, d)| *d).collect();
        let mut items: Vec<Developer> = ids.iter().filter_map(|id| self.developer(*id)).collect();
        items.sort_by_key(|d| d.id);
        let total = Some(items.len() as u64);
        items.truncate(limit);
        Ok(Page { items, total, next_cursor: None })
    }
}

impl MemStore {
    fn set_developer_checked(&self, before: &Developer, after: &Developer) -> StoreResult<()> {
        let mut devs = lock(&self.developers);
        if devs.get(&before.id).is_none_or(|d| d.version != before.version) {
            return Err(StoreError::Conflict);
        }
        devs.insert(after.id, after.clone());
        Ok(())
    }
}

impl AppStore for MemStore {
    async fn create_app(&self, before: &Developer, after: &Developer, app: &Application) -> StoreResult<()> {
        let _tx = self.tx();
        self.set_developer_checked(before, after)?;
        lock(&self.apps).insert(app.id, app.clone());
        Ok(())
    }
    async fn get_app(&self, developer_id: Uuid, app_id: Uuid) -> StoreResult<Option<Application>> {
        Ok(lock(&self.apps).get(&app_id).filter(|a| a.developer_id == developer_id).cloned())
    }
    async fn list_apps(&self, developer_id: Uuid) -> StoreResult<Vec<Application>> {
        let mut apps: Vec<Application> = lock(&self.apps).values().filter(|a| a.developer_id == developer_id).cloned().collect();
        apps.sort_by_key(|a| a.id);
        Ok(apps)
    }
    async fn update_app(&self, app: &Application) -> StoreResult<()> {
        let _tx = self.tx();
        let mut apps = lock(&self.apps);
        match apps.get(&app.id) {
            Some(a) if a.version + 1 == app.version => {
                apps.insert(app.id, app.clone());
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }
    async fn delete_app(&self, before: &Developer, after: &Developer, app: &Application) -> StoreResult<()> {
        let _tx = self.tx();
        self.set_developer_checked(before, after)?;
        lock(&self.apps).remove(&app.id);
        lock(&self.credentials).retain(|c| c.application_id != app.id);
        Ok(())
    }
    async fn put_credential(&self, credential: &Credential) -> StoreResult<()> {
        let _tx = self.tx();
        if !lock(&self.apps).contains_key(&credential.application_id) {
            return Err(StoreError::Conflict);
        }
        lock(&self.credentials).push(credential.clone());
        Ok(())
    }
    async fn list_credentials(&self, developer_id: Uuid, app_id: Uuid) -> StoreResult<Vec<Credential>> {
        Ok(lock(&self.credentials).iter().filter(|c| c.developer_id == developer_id && c.application_id == app_id).cloned().collect())
    }
    async fn delete_credential(&self, credential: &Credential) -> StoreResult<()> {
        lock(&self.credentials).retain(|c| c.id != credential.id);
        Ok(())
    }
    async fn key_lookup(
        &self,
        developer_id: Uuid,
        app_id: Uuid,
        key_hash: &str,
    ) -> StoreResult<(Option<Credential>, Option<Developer>, Option<Application>)> {
        let credential = lock(&self.credentials).iter().find(|c| c.developer_id == developer_id && c.key_hash == key_hash).cloned();
        Ok((credential, self.developer(developer_id), lock(&self.apps).get(&app_id).cloned()))
    }
}

impl AdminTokenStore for MemStore {
    async fn find_admin_token(&self, token_hash: &str) -> StoreResult<Option<AdminToken>> {
        Ok(lock(&self.admin_tokens).iter().find(|t| t.token_hash == token_hash).cloned())
    }
    async fn put_admin_token(&self, token: &AdminToken) -> StoreResult<()> {
        lock(&self.admin_tokens).push(token.clone());
        Ok(())
    }
    async fn list_admin_tokens(&self) -> StoreResult<Vec<AdminToken>> {
        Ok(lock(&self.admin_tokens).clone())
    }
    async fn delete_admin_token(&self, id: &str) -> StoreResult<bool> {
        let mut tokens = lock(&self.admin_tokens);
        let before = tokens.len();
        tokens.retain(|t| t.id != id);
        Ok(tokens.len() < before)
    }
}

impl OutboxFeed for MemStore {
    fn inserted_event(&self, record: &Value) -> Result<Option<LifecycleEvent>, BoxError> {
        if record.get("eventName").and_then(Value::as_str) != Some("INSERT") {
            return Ok(None);
        }
        match record.get("event") {
            Some(e) => Ok(Some(serde_json::from_value(e.clone())?)),
            None => Ok(None),
        }
    }
}

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
        allowed_sender_domains: vec![crate::domain::types::Domain::parse("test.example").unwrap()],
        token_secret: crate::config::TokenSecret::new("a test secret of at least thirty-two bytes").unwrap(),
        session_ttl_seconds: 3600,
        allow_clock_override: false,
        mail_retry_seconds: 1,
        rate_limits: crate::throttle::RateLimits::default(),
        token_secret_arn: None,
        clock_offset_seconds: 0,
        ses_configuration_set: None,
        origin_verify: None,
        authorizer_portal: None,
        route_products: String::new(),
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
