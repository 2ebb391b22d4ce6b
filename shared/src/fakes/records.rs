//! Portals, the event log and mail ledger, teams, applications, admin tokens and the outbox feed of the memory store.

use super::*;

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
    async fn list_portals(&self, limit: usize, cursor: Option<String>) -> StoreResult<Page<PortalEntry>> {
        self.record("list portals");
        let limit = limit.clamp(1, 100);
        let order = |p: &PortalEntry| format!("{}#{}", p.created_at.to_rfc3339(), p.id);
        let mut all: Vec<PortalEntry> = lock(&self.portals).values().map(PortalEntry::from).collect();
        all.sort_by_key(order);
        if let Some(c) = &cursor {
            if !all.iter().any(|p| &order(p) == c) {
                return Err(StoreError::BadCursor);
            }
        }
        let mut items: Vec<PortalEntry> =
            all.into_iter().filter(|p| cursor.as_ref().is_none_or(|c| &order(p) > c)).take(limit + 1).collect();
        let next_cursor = (items.len() > limit).then(|| {
            items.truncate(limit);
            order(items.last().expect("limit >= 1"))
        });
        Ok(Page { items, total: None, next_cursor })
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

impl AuditLog for MemStore {
    /// The adapter's partitions and filters over the events in memory; a cursor is the last
    /// id returned.
    async fn list_events(&self, q: &EventQuery) -> StoreResult<Page<LifecycleEvent>> {
        self.record("query events");
        let floor = q.since.map(audit::id_floor);
        let ceiling = q.until.map(audit::id_ceiling);
        let after = q.cursor.clone();
        let mut found: Vec<LifecycleEvent> = lock(&self.events)
            .iter()
            .filter(|e| e.portal_id == q.portal_id && q.developer_id.is_none_or(|d| e.developer_id == Some(d)))
            .filter(|e| q.types.as_ref().is_none_or(|t| t.matches(e.event_type)) && q.actor.as_ref().is_none_or(|a| a.matches(&e.actor.0)))
            .filter(|e| {
                let id = e.id.to_string();
                floor.as_ref().is_none_or(|f| &id >= f)
                    && ceiling.as_ref().is_none_or(|c| &id <= c)
                    && after.as_ref().is_none_or(|a| &id < a)
            })
            .cloned()
            .collect();
        found.sort_by_key(|e| std::cmp::Reverse(e.id));
        let more = found.len() > q.limit;
        found.truncate(q.limit);
        let next_cursor = more.then(|| found.last().map(|e| e.id.to_string())).flatten();
        Ok(Page { items: found, total: None, next_cursor })
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
    async fn change_memberships(
        &self,
        before: &Developer,
        after: &Developer,
        join: &[Team],
        leave: &[Uuid],
        events: &[LifecycleEvent],
    ) -> StoreResult<()> {
        let _tx = self.tx();
        let mut devs = lock(&self.developers);
        let mut members = lock(&self.memberships);
        let stale = devs.get(&before.id).is_none_or(|d| d.version != before.version);
        let joined_twice = join.iter().any(|t| members.contains(&(t.id, before.id)));
        let not_member = leave.iter().any(|t| !members.contains(&(*t, before.id)));
        if stale || joined_twice || not_member {
            return Err(StoreError::Conflict);
        }
        members.extend(join.iter().map(|t| (t.id, before.id)));
        members.retain(|(t, d)| !(*d == before.id && leave.contains(t)));
        devs.insert(after.id, after.clone());
        lock(&self.events).extend(events.iter().cloned());
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
    async fn create_app(&self, before: &Developer, after: &Developer, app: &Application, event: &LifecycleEvent) -> StoreResult<()> {
        let _tx = self.tx();
        self.set_developer_checked(before, after)?;
        lock(&self.apps).insert(app.id, app.clone());
        lock(&self.events).push(event.clone());
        Ok(())
    }
    async fn get_app(&self, developer_id: Uuid, app_id: Uuid) -> StoreResult<Option<Application>> {
        self.record("get app");
        Ok(lock(&self.apps).get(&app_id).filter(|a| a.developer_id == developer_id).cloned())
    }
    async fn list_apps(&self, developer_id: Uuid) -> StoreResult<Vec<Application>> {
        self.record("list apps");
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
    async fn delete_app(&self, before: &Developer, after: &Developer, app: &Application, event: &LifecycleEvent) -> StoreResult<()> {
        let _tx = self.tx();
        self.set_developer_checked(before, after)?;
        lock(&self.events).push(event.clone());
        lock(&self.apps).remove(&app.id);
        lock(&self.credentials).retain(|c| c.application_id != app.id);
        Ok(())
    }
    async fn put_credential(&self, credential: &Credential, event: &LifecycleEvent) -> StoreResult<()> {
        let _tx = self.tx();
        if !lock(&self.apps).contains_key(&credential.application_id) {
            return Err(StoreError::Conflict);
        }
        lock(&self.credentials).push(credential.clone());
        lock(&self.events).push(event.clone());
        Ok(())
    }
    async fn list_credentials(&self, developer_id: Uuid, app_id: Uuid) -> StoreResult<Vec<Credential>> {
        self.record("list credentials");
        Ok(lock(&self.credentials).iter().filter(|c| c.developer_id == developer_id && c.application_id == app_id).cloned().collect())
    }
    async fn delete_credential(&self, credential: &Credential, event: &LifecycleEvent) -> StoreResult<()> {
        let _tx = self.tx();
        let mut creds = lock(&self.credentials);
        if !creds.iter().any(|c| c.id == credential.id) {
            return Err(StoreError::Conflict);
        }
        creds.retain(|c| c.id != credential.id);
        lock(&self.events).push(event.clone());
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

impl crate::store::ConsoleSessionStore for MemStore {
    async fn put_console_session(&self, session: &crate::store::ConsoleSession) -> StoreResult<()> {
        lock(&self.console_sessions).push(session.clone());
        Ok(())
    }
    async fn get_console_session(&self, id_hash: &str) -> StoreResult<Option<crate::store::ConsoleSession>> {
        Ok(lock(&self.console_sessions).iter().find(|s| s.id_hash == id_hash).cloned())
    }
    async fn delete_console_session(&self, id_hash: &str) -> StoreResult<()> {
        lock(&self.console_sessions).retain(|s| s.id_hash != id_hash);
        Ok(())
    }
    async fn put_console_result(&self, result: &crate::store::ConsoleResult) -> StoreResult<()> {
        lock(&self.console_results).push(result.clone());
        Ok(())
    }
    async fn get_console_result(&self, session_hash: &str, id: Uuid) -> StoreResult<Option<crate::store::ConsoleResult>> {
        Ok(lock(&self.console_results).iter().find(|r| r.session_hash == session_hash && r.id == id).cloned())
    }
    async fn take_console_result(&self, session_hash: &str, id: Uuid) -> StoreResult<Option<crate::store::ConsoleResult>> {
        let mut results = lock(&self.console_results);
        Ok(results.iter().position(|r| r.session_hash == session_hash && r.id == id).map(|i| results.remove(i)))
    }
}
