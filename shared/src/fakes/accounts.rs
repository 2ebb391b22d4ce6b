//! The developer and approval ports of the memory store.

use super::*;

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
    async fn get_developers(&self, ids: &[Uuid]) -> StoreResult<Vec<Developer>> {
        self.record("get developers");
        Ok(ids.iter().filter_map(|id| self.developer(*id)).collect())
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
