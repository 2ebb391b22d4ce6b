//! Application services: the use cases, generic over the storage ports. Handlers parse the
//! request, call one of these, and render the result.

use serde::Deserialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::crypto::{hash_password, sha256_hex};
use crate::domain::*;
use crate::error::AppError;
use crate::http::Fields;
use crate::store::*;

// ---------------------------------------------------------------- portals

/// `POST /api/portals` body: `name` plus any settings, at the top level (as the contract
/// shows) or nested under `settings`.
pub fn parse_new_portal(body: Map<String, Value>) -> Result<(PortalName, PortalSettings), AppError> {
    let mut body = body;
    let mut fields = Fields::default();
    let name = match body.remove("name") {
        Some(Value::String(s)) => fields.check("name", PortalName::parse(&s)),
        Some(_) => fields.check::<PortalName>("name", Err("must be a string".into())),
        None => fields.check::<PortalName>("name", Err("is required".into())),
    };
    let nested = body.remove("settings");
    let (patch_value, prefix) = match nested {
        Some(Value::Object(m)) if body.is_empty() => (Value::Object(m), "settings."),
        Some(Value::Object(_)) => {
            fields.push("settings", "give settings either at the top level or under settings, not both");
            (Value::Object(Map::new()), "")
        }
        Some(_) => {
            fields.push("settings", "must be an object");
            (Value::Object(Map::new()), "")
        }
        None => (Value::Object(body), ""),
    };
    let settings = match serde_path_to_error::deserialize::<_, SettingsPatch>(patch_value) {
        Ok(patch) => match patch.apply(PortalSettings::default(), prefix) {
            Ok(s) => Some(s),
            Err(errs) => {
                for e in errs {
                    fields.push(&e.field, e.message);
                }
                None
            }
        },
        Err(e) => {
            let msg = e.inner().to_string();
            let quoted = msg.split('`').nth(1).unwrap_or_default();
            if msg.starts_with("unknown field") {
                fields.push(&format!("{prefix}{quoted}"), "is not a known field");
            } else {
                let path = e.path().to_string();
                fields.push(&format!("{prefix}{}", if path == "." { "settings".into() } else { path }), msg);
            }
            None
        }
    };
    fields.finish()?;
    Ok((name.expect("checked"), settings.expect("checked")))
}

/// A portal may send only from the deployment's allowed sender domains: checked when
/// `email_from` changes (`field` names it as the request did).
fn check_email_from(config: &crate::app::Config, before: Option<&str>, after: &PortalSettings, field: &str) -> Result<(), AppError> {
    match after.email_from.as_deref() {
        Some(from) if Some(from) != before && !config.allows_sender(from) => {
            let domains: Vec<&str> = config.allowed_sender_domains.iter().map(Domain::as_str).collect();
            Err(AppError::field(field, format!("must be an address in one of this deployment's sender domains ({})", domains.join(", "))))
        }
        _ => Ok(()),
    }
}

pub async fn create_portal<S: PortalStore>(
    store: &S,
    config: &crate::app::Config,
    token: &AdminToken,
    body: Map<String, Value>,
    now: Timestamp,
) -> Result<Portal, AppError> {
    if !token.is_global() {
        return Err(AppError::Forbidden("this admin token is scoped to one portal and cannot create portals".into()));
    }
    let nested = body.get("settings").is_some_and(Value::is_object);
    let (name, settings) = parse_new_portal(body)?;
    check_email_from(config, None, &settings, if nested { "settings.email_from" } else { "email_from" })?;
    let portal = Portal { id: Uuid::new_v4(), name: name.as_str().to_string(), settings, created_at: now, updated_at: now, version: 1 };
    store.create_portal(&portal).await?;
    Ok(portal)
}

/// Loads a portal the token may see; another portal's id is indistinguishable from a missing one.
pub async fn portal_for<S: PortalStore>(store: &S, token: &AdminToken, id: Uuid) -> Result<Portal, AppError> {
    if !token.can_access(id) {
        return Err(AppError::NotFound("portal"));
    }
    store.get_portal(id).await?.ok_or(AppError::NotFound("portal"))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalPatch {
    pub name: Option<String>,
    pub settings: Option<SettingsPatch>,
}

pub async fn patch_portal<S: PortalStore>(
    store: &S,
    config: &crate::app::Config,
    token: &AdminToken,
    id: Uuid,
    patch: PortalPatch,
    now: Timestamp,
) -> Result<Portal, AppError> {
    let mut portal = portal_for(store, token, id).await?;
    let mut fields = Fields::default();
    if let Some(n) = &patch.name {
        if let Some(n) = fields.check("name", PortalName::parse(n)) {
            portal.name = n.as_str().to_string();
        }
    }
    if let Some(s) = patch.settings {
        match s.apply(portal.settings.clone(), "settings.") {
            Ok(s) => match check_email_from(config, portal.settings.email_from.as_deref(), &s, "settings.email_from") {
                Ok(()) => portal.settings = s,
                Err(AppError::Validation(errs)) => errs.into_iter().for_each(|e| fields.push(&e.field, e.message)),
                Err(e) => return Err(e),
            },
            Err(errs) => errs.into_iter().for_each(|e| fields.push(&e.field, e.message)),
        }
    }
    fields.finish()?;
    portal.updated_at = now;
    portal.version += 1;
    store.update_portal(&portal).await.map_err(|e| match e {
        StoreError::Conflict => AppError::Conflict("the portal was changed by another request; read it again and retry".into()),
        e => e.into(),
    })?;
    Ok(portal)
}

// ---------------------------------------------------------------- registration

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    pub email: String,
    pub password: String,
    pub name: String,
    #[serde(default)]
    pub username: Option<String>,
}

pub struct ValidRegistration {
    pub email: Email,
    pub password: Password,
    pub name: PersonName,
    pub username: Option<Username>,
}

pub fn validate_registration(body: &RegisterBody) -> Result<ValidRegistration, AppError> {
    let mut f = Fields::default();
    let email = f.check("email", Email::parse(&body.email));
    let name = f.check("name", PersonName::parse(&body.name));
    let username = match body.username.as_deref().map(str::trim) {
        None | Some("") => Some(None),
        Some(u) => f.check("username", Username::parse(u)).map(Some),
    };
    let inputs = [body.email.as_str(), body.name.as_str(), body.username.as_deref().unwrap_or_default()];
    let local = body.email.split('@').next().unwrap_or_default();
    let password = f.check("password", Password::parse(&body.password, &[inputs[0], inputs[1], inputs[2], local]));
    f.finish()?;
    Ok(ValidRegistration {
        email: email.expect("checked"),
        password: password.expect("checked"),
        name: name.expect("checked"),
        username: username.expect("checked"),
    })
}

/// What the registration endpoint answers: always `{id, state: pending}` with 202.
pub struct Registered {
    pub id: Uuid,
}

/// Self-registration. The answer is the same whether or not the email already has an account:
/// a known address gets an email instead (at most one per address per hour). Each attempt is
/// counted per client and per portal (at the portal's limits, so after reading it) before the
/// Argon2 hash is spent (429 over the limits).
pub async fn register<S>(
    store: &S,
    config: &crate::app::Config,
    portal_id: Uuid,
    body: RegisterBody,
    client: &str,
    now: Timestamp,
) -> Result<Registered, AppError>
where
    S: PortalStore + DeveloperStore + EventLog + ThrottleStore,
{
    let valid = validate_registration(&body)?;
    let portal = store.get_portal(portal_id).await?.ok_or(AppError::NotFound("portal"))?;
    let limits = config.rate_limits.for_portal(&portal.settings.rate_limits);
    crate::throttle::admit(store, &limits.gates(crate::throttle::Action::Register, portal_id, client, now), now).await?;
    if !portal.settings.self_registration {
        return Err(AppError::Forbidden("self-registration is disabled for this portal; ask its administrators for an invite".into()));
    }
    let password_hash = hash_password(&valid.password).await?;
    let mut developer = new_developer(
        Origin::Registered,
        portal_id,
        Some(&valid.email),
        valid.username.as_ref(),
        &valid.name,
        DeveloperState::Pending,
        password_hash,
        now,
    );
    developer.approval_id = Some(Uuid::now_v7());
    developer.approval_ids = developer.approval_id.into_iter().collect();
    let approval = new_approval(&developer, now);
    let mut event = LifecycleEvent::new(EventType::Registered, &developer, Actor::anonymous(), now);
    event.to_state = Some(DeveloperState::Pending);
    let verification =
        crate::recovery::new_link(config, &developer, LinkPurpose::Verify, portal.settings.verification_token_ttl_seconds, now);
    event.token_nonce = Some(verification.nonce.clone());
    event.expires_at = Some(verification.expires_at);
    let new = NewDeveloper { developer, approval: Some(approval), accepted_invite: None, verification: Some(verification), event };
    match store.register(&new).await {
        Ok(()) => Ok(Registered { id: new.developer.id }),
        Err(RegisterError::UsernameTaken) => Err(AppError::Conflict("this username is taken; choose another".into())),
        Err(RegisterError::EmailTaken(owner)) => {
            if let Some((owner, owner_email)) = owner {
                let mut attempt = LifecycleEvent::new(EventType::RegistrationAttempted, &new.developer, Actor::anonymous(), now);
                attempt.id = attempt_event_id(portal_id, valid.email.normalized(), now);
                attempt.developer_id = Some(owner);
                // Only the owner's address: the rest of what was typed is the requester's.
                attempt.developer = DeveloperSnapshot { email: Some(owner_email), name: String::new(), username: None };
                attempt.approval_id = None;
                attempt.to_state = None;
                store.record_event(&attempt, true).await?;
            }
            // Same answer as a new registration; the id is fresh and refers to nothing.
            Ok(Registered { id: Uuid::now_v7() })
        }
        Err(RegisterError::Store(e)) => Err(e.into()),
        Err(RegisterError::InviteUsed) => Err(StoreError::Conflict.into()),
    }
}

/// A new builtin developer record (version 1, no sessions yet).
#[allow(clippy::too_many_arguments)]
pub fn new_developer(
    origin: Origin,
    portal_id: Uuid,
    email: Option<&Email>,
    username: Option<&Username>,
    name: &PersonName,
    state: DeveloperState,
    password_hash: String,
    now: Timestamp,
) -> Developer {
    Developer {
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

/// One "someone tried to register with your address" event per address per hour: the id is
/// derived from (portal, address, hour), and the event is written only if it is new.
pub fn attempt_event_id(portal: Uuid, email_norm: &str, now: Timestamp) -> Uuid {
    let hour = now.timestamp() / 3600;
    let digest = sha256_hex(format!("attempt|{portal}|{email_norm}|{hour}").as_bytes());
    let mut bytes = [0u8; 16];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = u8::from_str_radix(&digest[i * 2..i * 2 + 2], 16).unwrap_or(0);
    }
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

fn new_approval(d: &Developer, now: Timestamp) -> Approval {
    Approval {
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

// ---------------------------------------------------------------- lifecycle

/// The result of a state change.
#[derive(Debug)]
pub enum Changed {
    /// The developer as stored afterwards.
    Updated(Developer),
    /// Rejected with `reject_action: delete`: the account is gone; this is its last state.
    Deleted(Developer),
}

impl Changed {
    pub fn developer(&self) -> &Developer {
        match self {
            Self::Updated(d) | Self::Deleted(d) => d,
        }
    }
}

/// Moves a developer to `to` (and optionally renames), atomically with the approval request,
/// the per-state counters and the lifecycle event. Conditional on the version read, so of two
/// racing decisions exactly one wins and the other gets 409.
pub async fn change_developer<S: DeveloperStore>(
    store: &S,
    dev: Developer,
    to: Option<DeveloperState>,
    name: Option<PersonName>,
    actor: &Actor,
    reason: Option<String>,
    reject_action: RejectAction,
    now: Timestamp,
) -> Result<Changed, AppError> {
    let mut after = dev.clone();
    after.updated_at = now;
    after.version = dev.version + 1;
    if let Some(n) = &name {
        after.name = n.as_str().to_string();
    }
    let mut close_approval = None;
    let mut open_approval = None;
    let mut event = None;
    if let Some(to) = to {
        let t = lifecycle::transition(dev.state, to)
            .map_err(|e| AppError::Conflict(format!("{e}: the lifecycle does not allow this transition")))?;
        after.state = t.to;
        if t.from == DeveloperState::Approved {
            // Leaving approved ends every session at once.
            after.session_epoch += 1;
        }
        if t.from == DeveloperState::Pending {
            if let Some(aid) = dev.approval_id {
                close_approval = Some(ApprovalDecision {
                    approval_id: aid,
                    status: if t.to == DeveloperState::Approved { ApprovalStatus::Accepted } else { ApprovalStatus::Rejected },
                    decided_by: actor.0.clone(),
                    decided_at: now,
                });
            }
            after.approval_id = None;
        }
        if t.to == DeveloperState::Pending {
            let aid = Uuid::now_v7();
            after.approval_id = Some(aid);
            after.approval_ids.push(aid);
            open_approval = Some(new_approval(&after, now));
        }
        let mut e = LifecycleEvent::new(EventType::entering(t.to), &after, actor.clone(), now);
        e.from_state = Some(t.from);
        e.to_state = Some(t.to);
        e.approval_id = dev.approval_id.or(after.approval_id);
        e.reason = reason.clone();
        event = Some(e);

        if t.to == DeveloperState::Rejected && reject_action == RejectAction::Delete {
            let mut e = LifecycleEvent::new(EventType::Deleted, &after, actor.clone(), now);
            e.from_state = Some(t.from);
            e.reason = Some("rejected with reject_action delete".into());
            store.delete_developer(&dev, &e).await?;
            return Ok(Changed::Deleted(after));
        }
    } else if name.is_some() {
        let mut e = LifecycleEvent::new(EventType::Updated, &after, actor.clone(), now);
        e.from_state = Some(dev.state);
        e.to_state = Some(dev.state);
        event = Some(e);
    }
    let change = DeveloperChange { keep_session: None, consume_link: None, before: dev, after, close_approval, open_approval, event };
    store.change_developer(&change).await?;
    Ok(Changed::Updated(change.after))
}

/// Loads a developer of `portal_id` that the token may see.
pub async fn developer_for<S: DeveloperStore>(store: &S, token: &AdminToken, portal_id: Uuid, id: Uuid) -> Result<Developer, AppError> {
    if !token.can_access(portal_id) {
        return Err(AppError::NotFound("developer"));
    }
    match store.get_developer(id).await? {
        Some(d) if d.portal_id == portal_id => Ok(d),
        _ => Err(AppError::NotFound("developer")),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeveloperPatch {
    pub status: Option<String>,
    pub state: Option<String>,
    pub name: Option<String>,
}

pub async fn patch_developer<S: DeveloperStore + PortalStore>(
    store: &S,
    token: &AdminToken,
    portal_id: Uuid,
    id: Uuid,
    patch: DeveloperPatch,
    now: Timestamp,
) -> Result<Changed, AppError> {
    let mut f = Fields::default();
    let to = match (&patch.status, &patch.state) {
        (Some(a), Some(b)) if !a.eq_ignore_ascii_case(b) => {
            f.push("status", "status and state are the same field; give one");
            None
        }
        (Some(v), _) => f.check("status", DeveloperState::parse(v)),
        (None, Some(v)) => f.check("state", DeveloperState::parse(v)),
        (None, None) => None,
    };
    let name = patch.name.as_deref().and_then(|n| f.check("name", PersonName::parse(n)));
    if patch.status.is_none() && patch.state.is_none() && patch.name.is_none() {
        f.push("status", "is required (or name)");
    }
    f.finish()?;
    let dev = developer_for(store, token, portal_id, id).await?;
    let reject_action = if to == Some(DeveloperState::Rejected) {
        store.get_portal(portal_id).await?.map(|p| p.settings.reject_action).unwrap_or_default()
    } else {
        RejectAction::Keep
    };
    change_developer(store, dev, to, name, &Actor::admin(&token.id), None, reject_action, now).await
}

pub async fn delete_developer<S: DeveloperStore>(
    store: &S,
    token: &AdminToken,
    portal_id: Uuid,
    id: Uuid,
    now: Timestamp,
) -> Result<(), AppError> {
    // A concurrent change bumps the version; re-read and try again a few times.
    for _ in 0..3 {
        let dev = developer_for(store, token, portal_id, id).await?;
        let mut e = LifecycleEvent::new(EventType::Deleted, &dev, Actor::admin(&token.id), now);
        e.from_state = Some(dev.state);
        match store.delete_developer(&dev, &e).await {
            Ok(()) => return Ok(()),
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Conflict("the developer keeps changing; retry the delete".into()))
}

pub struct ListParams {
    pub state: Option<String>,
    pub q: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

pub fn parse_limit(raw: Option<&str>, f: &mut Fields) -> usize {
    match raw {
        None | Some("") => 50,
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if (1..=100).contains(&n) => n,
            _ => {
                f.push("limit", "must be a whole number from 1 to 100");
                50
            }
        },
    }
}

pub async fn list_developers<S: DeveloperStore>(
    store: &S,
    token: &AdminToken,
    portal_id: Uuid,
    p: ListParams,
) -> Result<Page<Developer>, AppError> {
    let mut f = Fields::default();
    let state = match p.state.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => f.check("state", DeveloperState::parse(s)),
    };
    let prefix = match p.q.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(q) if q.chars().count() > 100 || q.chars().any(char::is_control) => {
            f.push("q", "must be at most 100 characters without control characters");
            None
        }
        Some(q) => Some(q.to_lowercase()),
    };
    let limit = parse_limit(p.limit.as_deref(), &mut f);
    f.finish()?;
    if !token.can_access(portal_id) {
        return Err(AppError::NotFound("portal"));
    }
    let query = DeveloperQuery { portal_id, state, prefix, limit, cursor: p.cursor.filter(|c| !c.is_empty()) };
    Ok(store.list_developers(&query).await?)
}

// ---------------------------------------------------------------- approvals

pub async fn list_approvals<S: ApprovalStore>(
    store: &S,
    token: &AdminToken,
    event: Option<String>,
    status: Option<String>,
    portal_id: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
) -> Result<Page<Approval>, AppError> {
    let mut f = Fields::default();
    let event = event.filter(|e| !e.is_empty()).unwrap_or_else(|| APPROVAL_EVENT_REGISTRATION.into());
    if event != APPROVAL_EVENT_REGISTRATION {
        f.push("event", format!("must be {APPROVAL_EVENT_REGISTRATION}"));
    }
    let status = match status.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => f.check("status", ApprovalStatus::parse(s)),
    };
    let portal = match portal_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(p) => f.check("portal_id", p.parse::<Uuid>().map_err(|_| "must be a portal id (UUID)".to_string())),
    };
    let limit = parse_limit(limit.as_deref(), &mut f);
    f.finish()?;
    let portal_id = match (portal, token.is_global()) {
        (Some(p), _) if !token.can_access(p) => return Err(AppError::NotFound("portal")),
        (Some(p), _) => Some(p),
        (None, true) => None,
        (None, false) => Some(token.scope.parse().map_err(AppError::internal)?),
    };
    let query = ApprovalQuery { event, status, portal_id, limit, cursor: cursor.filter(|c| !c.is_empty()) };
    Ok(store.list_approvals(&query).await?)
}

/// Accepts or rejects a pending approval request: the developer becomes approved or rejected
/// (or is deleted when the portal's `reject_action` is `delete`).
pub async fn decide_approval<S: ApprovalStore + DeveloperStore + PortalStore>(
    store: &S,
    token: &AdminToken,
    approval_id: Uuid,
    accept: bool,
    now: Timestamp,
) -> Result<Approval, AppError> {
    let approval =
        store.get_approval(approval_id).await?.filter(|a| token.can_access(a.portal_id)).ok_or(AppError::NotFound("approval"))?;
    if approval.status != ApprovalStatus::Pending {
        return Err(AppError::Conflict(format!("this approval request was already {}", approval.status.as_str())));
    }
    let dev = store.get_developer(approval.developer_id).await?.ok_or(AppError::NotFound("developer"))?;
    if dev.approval_id != Some(approval.id) || dev.state != DeveloperState::Pending {
        return Err(AppError::Conflict("this approval request was already decided".into()));
    }
    let to = if accept { DeveloperState::Approved } else { DeveloperState::Rejected };
    let reject_action = if accept {
        RejectAction::Keep
    } else {
        store.get_portal(approval.portal_id).await?.map(|p| p.settings.reject_action).unwrap_or_default()
    };
    let actor = Actor::admin(&token.id);
    change_developer(store, dev, Some(to), None, &actor, None, reject_action, now).await.map_err(|e| match e {
        AppError::Conflict(_) => AppError::Conflict("this approval request was already decided".into()),
        e => e,
    })?;
    Ok(Approval {
        status: if accept { ApprovalStatus::Accepted } else { ApprovalStatus::Rejected },
        decided_at: Some(now),
        decided_by: Some(actor.0),
        ..approval
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_portal_takes_settings_at_the_top_level_or_nested() {
        let top: Map<String, Value> = serde_json::from_str(r#"{"name": "Acme", "auto_approve": true}"#).unwrap();
        let (name, s) = parse_new_portal(top).unwrap();
        assert_eq!(name.as_str(), "Acme");
        assert!(s.auto_approve);
        let nested: Map<String, Value> =
            serde_json::from_str(r#"{"name": "Acme", "settings": {"trusted_domains": ["acme.com"]}}"#).unwrap();
        assert_eq!(parse_new_portal(nested).unwrap().1.trusted_domains.len(), 1);
    }

    #[test]
    fn a_new_portal_with_an_unknown_setting_names_it() {
        let body: Map<String, Value> = serde_json::from_str(r#"{"name": "Acme", "auto_aprove": true}"#).unwrap();
        match parse_new_portal(body) {
            Err(AppError::Validation(errs)) => assert_eq!(errs[0].field, "auto_aprove"),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn registration_validation_names_every_bad_field() {
        let body = RegisterBody { email: "nope".into(), password: "123".into(), name: "".into(), username: Some("x".into()) };
        match validate_registration(&body) {
            Err(AppError::Validation(errs)) => {
                let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
                assert_eq!(fields, ["email", "name", "username", "password"]);
            }
            _ => panic!("expected a validation error"),
        }
    }

    #[test]
    fn a_password_made_of_the_users_own_name_is_weak() {
        let body = RegisterBody {
            email: "margaret.hamilton@example.com".into(),
            password: "margarethamilton".into(),
            name: "Margaret Hamilton".into(),
            username: None,
        };
        assert!(validate_registration(&body).is_err());
    }

    #[test]
    fn repeated_attempts_in_the_same_hour_share_one_event_id() {
        let p = Uuid::new_v4();
        let t = chrono::DateTime::parse_from_rfc3339("2026-01-01T10:05:00Z").unwrap().with_timezone(&chrono::Utc);
        let later = t + chrono::Duration::minutes(30);
        let next_hour = t + chrono::Duration::minutes(60);
        assert_eq!(attempt_event_id(p, "a@x.com", t), attempt_event_id(p, "a@x.com", later));
        assert_ne!(attempt_event_id(p, "a@x.com", t), attempt_event_id(p, "a@x.com", next_hour));
        assert_ne!(attempt_event_id(p, "a@x.com", t), attempt_event_id(p, "b@x.com", t));
    }
}
