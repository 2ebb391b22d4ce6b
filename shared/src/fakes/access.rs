//! Invites, sessions, throttle counters and link tokens of the memory store.

use super::*;

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
    async fn put_session(&self, session: &Session, event: &LifecycleEvent) -> StoreResult<()> {
        self.record("put session");
        let _tx = self.tx();
        lock(&self.sessions).push(session.clone());
        lock(&self.events).push(event.clone());
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
