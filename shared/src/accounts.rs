//! Invites (registration links and one-time passwords) and developer sessions (login, `/me`,
//! password change, logout, throttling of failed logins).

use serde::Deserialize;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::app::Config;
use crate::consumer::INVITE_TOKEN_PREFIX;
use crate::crypto::{constant_time_eq, derive_token, hash_password, mint_session_token, nonce, token_hash, token_id, verify_password};
use crate::domain::*;
use crate::error::AppError;
use crate::http::Fields;
use crate::service::{new_developer, parse_limit, portal_for};
use crate::store::*;

/// At most this many addresses per invite request.
pub const MAX_INVITES_PER_REQUEST: usize = 100;

// ---------------------------------------------------------------- admin: invites

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkInvites {
    pub emails: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordInvite {
    pub username: String,
    pub password: String,
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
}

/// The two bodies of `POST .../developers/invites`: a list of addresses, or a username with a
/// one-time password.
pub enum InviteRequest {
    Links(LinkInvites),
    Password(PasswordInvite),
}

impl InviteRequest {
    pub fn from_body(body: Map<String, Value>) -> Result<Self, AppError> {
        let links = body.contains_key("emails");
        let value = Value::Object(body);
        let parsed = if links {
            serde_path_to_error::deserialize(value).map(InviteRequest::Links)
        } else {
            serde_path_to_error::deserialize(value).map(InviteRequest::Password)
        };
        parsed.map_err(|e| {
            let msg = e.inner().to_string();
            let quoted = msg.split('`').nth(1).unwrap_or_default().to_string();
            let path = e.path().to_string();
            if msg.starts_with("unknown field") {
                AppError::field(if path == "." { &quoted } else { &path }, "is not a known field")
            } else if msg.starts_with("missing field") {
                AppError::field(&quoted, "is required (give either emails, or username, password and name)")
            } else {
                AppError::field(if path == "." { "body" } else { &path }, msg)
            }
        })
    }
}

fn invite_event(invite: &Invite, event_type: EventType, actor: Actor, now: Timestamp) -> LifecycleEvent {
    LifecycleEvent {
        id: Uuid::now_v7(),
        event_type,
        portal_id: invite.portal_id,
        developer_id: invite.accepted_by,
        actor,
        from_state: None,
        to_state: None,
        at: now,
        approval_id: None,
        developer: DeveloperSnapshot { email: Some(invite.email.clone()), name: String::new(), username: None },
        reason: None,
        invite_id: Some(invite.id),
        token_nonce: (event_type == EventType::InviteSent).then(|| invite.nonce.clone()),
        expires_at: Some(invite.expires_at),
    }
}

/// (Re)issues an invite's link: a fresh nonce, token hash and expiry.
fn issue(invite: &mut Invite, config: &Config, ttl_seconds: u64, now: Timestamp) {
    invite.nonce = nonce();
    invite.token_hash = derive_token(&config.token_secret, INVITE_TOKEN_PREFIX, "invite", invite.id, &invite.nonce).hash;
    invite.expires_at = now + chrono::Duration::seconds(ttl_seconds as i64);
    invite.updated_at = now;
}

fn links_disabled() -> AppError {
    AppError::Forbidden("registration-link invites are disabled for this portal (invite_email is off); invite with a username and one-time password instead".into())
}

/// One registration-link invite per address; duplicates, existing developers and addresses
/// already invited are reported per address, not fatal.
pub async fn invite_links<S>(
    store: &S,
    config: &Config,
    token: &AdminToken,
    portal_id: Uuid,
    body: LinkInvites,
    now: Timestamp,
) -> Result<Vec<Value>, AppError>
where
    S: PortalStore + InviteStore,
{
    let mut f = Fields::default();
    if body.emails.is_empty() {
        f.push("emails", "must list at least one address");
    }
    if body.emails.len() > MAX_INVITES_PER_REQUEST {
        f.push("emails", format!("must list at most {MAX_INVITES_PER_REQUEST} addresses"));
    }
    let parsed: Vec<Option<Email>> =
        body.emails.iter().enumerate().map(|(i, e)| f.check(&format!("emails[{i}]"), Email::parse(e))).collect();
    f.finish()?;
    let portal = portal_for(store, token, portal_id).await?;
    if !portal.settings.invite_email {
        return Err(links_disabled());
    }
    let emails: Vec<Email> = parsed.into_iter().flatten().collect();
    let mut unique: Vec<String> = Vec::new();
    for e in &emails {
        if !unique.contains(&e.normalized().to_string()) {
            unique.push(e.normalized().to_string());
        }
    }
    let registered = store.registered_emails(portal_id, &unique).await?;
    let actor = Actor::admin(&token.id);
    let mut seen: Vec<String> = Vec::new();
    let mut plan = Vec::new();
    for e in &emails {
        let norm = e.normalized().to_string();
        let status = if seen.contains(&norm) {
            Some("duplicate")
        } else if registered.contains(&norm) {
            Some("already_registered")
        } else {
            None
        };
        seen.push(norm.clone());
        let invite = status.is_none().then(|| {
            let mut invite = Invite {
                id: Uuid::now_v7(),
                portal_id,
                email: e.as_str().to_string(),
                email_norm: norm,
                status: InviteStatus::Pending,
                nonce: String::new(),
                token_hash: String::new(),
                expires_at: now,
                created_at: now,
                updated_at: now,
                accepted_by: None,
                version: 1,
            };
            issue(&mut invite, config, portal.settings.invite_ttl_seconds, now);
            invite
        });
        plan.push((e.as_str().to_string(), status, invite));
    }
    let writes = plan.iter().map(|(_, _, invite)| async {
        match invite {
            Some(inv) => Some(store.create_invite(inv, &invite_event(inv, EventType::InviteSent, actor.clone(), now), now).await),
            None => None,
        }
    });
    let results = futures::future::join_all(writes).await;
    let mut out = Vec::new();
    for ((email, status, invite), result) in plan.into_iter().zip(results) {
        let entry = match (status, invite, result) {
            (Some(st), _, _) => {
                json!({ "id": null, "email": email, "status": st, "expires_at": null })
            }
            (None, Some(inv), Some(Ok(()))) => {
                json!({ "id": inv.id, "email": email, "status": "pending", "expires_at": inv.expires_at })
            }
            (None, _, Some(Err(InviteError::AlreadyInvited))) => {
                json!({ "id": null, "email": email, "status": "already_invited", "expires_at": null })
            }
            (None, _, Some(Err(InviteError::Store(e)))) => return Err(e.into()),
            _ => return Err(AppError::internal("invite plan and results disagree")),
        };
        out.push(entry);
    }
    Ok(out)
}

/// Rules for a one-time password chosen by an admin: it must be changed at first login and
/// expires, so only length and a zxcvbn score of at least 2 are required.
pub fn parse_temporary_password(raw: &str, inputs: &[&str]) -> Result<(), String> {
    let n = raw.chars().count();
    if !(PASSWORD_MIN_CHARS..=PASSWORD_MAX_CHARS).contains(&n) {
        return Err(format!("must be {PASSWORD_MIN_CHARS} to {PASSWORD_MAX_CHARS} characters"));
    }
    let inputs: Vec<&str> = inputs.iter().copied().filter(|s| !s.is_empty()).collect();
    if zxcvbn::zxcvbn(raw, &inputs).score() < zxcvbn::Score::Two {
        return Err("is too easy to guess, even for a one-time password".into());
    }
    Ok(())
}

/// An approved developer with a username and a one-time password that must be changed at first
/// login and stops working after `temporary_password_ttl_seconds`.
pub async fn invite_with_password<S>(
    store: &S,
    token: &AdminToken,
    portal_id: Uuid,
    body: PasswordInvite,
    now: Timestamp,
) -> Result<Developer, AppError>
where
    S: PortalStore + DeveloperStore,
{
    let mut f = Fields::default();
    let username = f.check("username", Username::parse(&body.username));
    let name = f.check("name", PersonName::parse(&body.name));
    let email = match body.email.as_deref().map(str::trim) {
        None | Some("") => Some(None),
        Some(e) => f.check("email", Email::parse(e)).map(Some),
    };
    f.check("password", parse_temporary_password(&body.password, &[&body.username, &body.name, body.email.as_deref().unwrap_or_default()]));
    f.finish()?;
    let (username, name, email) = (username.expect("checked"), name.expect("checked"), email.expect("checked"));
    let portal = portal_for(store, token, portal_id).await?;
    let hash = hash_password(&Password::unchecked(&body.password)).await?;
    let mut dev = new_developer(portal_id, email.as_ref(), Some(&username), &name, DeveloperState::Approved, hash, now);
    dev.must_change_password = true;
    dev.temporary_password_expires_at = Some(now + chrono::Duration::seconds(portal.settings.temporary_password_ttl_seconds as i64));
    let mut event = LifecycleEvent::new(EventType::Created, &dev, Actor::admin(&token.id), now);
    event.to_state = Some(DeveloperState::Approved);
    let new = NewDeveloper { developer: dev, approval: None, accepted_invite: None, verification: None, event };
    match store.register(&new).await {
        Ok(()) => Ok(new.developer),
        Err(RegisterError::UsernameTaken) => Err(AppError::Conflict("this username is taken; choose another".into())),
        Err(RegisterError::EmailTaken(_)) => Err(AppError::Conflict("a developer with this email already exists in this portal".into())),
        Err(RegisterError::InviteUsed) | Err(RegisterError::Store(StoreError::Conflict)) => {
            Err(AppError::Conflict("the developer was created concurrently".into()))
        }
        Err(RegisterError::Store(e)) => Err(e.into()),
    }
}

async fn invite_for<S: InviteStore>(store: &S, token: &AdminToken, portal_id: Uuid, id: Uuid) -> Result<Invite, AppError> {
    if !token.can_access(portal_id) {
        return Err(AppError::NotFound("invite"));
    }
    match store.get_invite(id).await? {
        Some(i) if i.portal_id == portal_id => Ok(i),
        _ => Err(AppError::NotFound("invite")),
    }
}

pub async fn list_invites<S: InviteStore + PortalStore>(
    store: &S,
    token: &AdminToken,
    portal_id: Uuid,
    status: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
    now: Timestamp,
) -> Result<Page<Invite>, AppError> {
    let mut f = Fields::default();
    let status = match status.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => f.check("status", InviteStatus::parse(s)),
    };
    let limit = parse_limit(limit.as_deref(), &mut f);
    f.finish()?;
    portal_for(store, token, portal_id).await?;
    Ok(store.list_invites(&InviteQuery { portal_id, status, limit, cursor: cursor.filter(|c| !c.is_empty()) }, now).await?)
}

/// Withdraws a pending (or expired) invite: its link stops working.
pub async fn withdraw_invite<S: InviteStore>(
    store: &S,
    token: &AdminToken,
    portal_id: Uuid,
    id: Uuid,
    now: Timestamp,
) -> Result<(), AppError> {
    let mut invite = invite_for(store, token, portal_id, id).await?;
    if invite.status != InviteStatus::Pending {
        return Err(AppError::Conflict(format!("this invite is already {}", invite.status.as_str())));
    }
    invite.status = InviteStatus::Withdrawn;
    invite.version += 1;
    invite.updated_at = now;
    let event = invite_event(&invite, EventType::InviteWithdrawn, Actor::admin(&token.id), now);
    store.update_invite(&invite, &event).await.map_err(|e| match e {
        StoreError::Conflict => AppError::Conflict("the invite changed meanwhile; read it again".into()),
        e => e.into(),
    })
}

/// Re-sends an invite with a new token and expiry; the old link is dead.
pub async fn resend_invite<S: InviteStore + PortalStore>(
    store: &S,
    config: &Config,
    token: &AdminToken,
    portal_id: Uuid,
    id: Uuid,
    now: Timestamp,
) -> Result<Invite, AppError> {
    let mut invite = invite_for(store, token, portal_id, id).await?;
    let portal = store.get_portal(portal_id).await?.ok_or(AppError::NotFound("portal"))?;
    if !portal.settings.invite_email {
        return Err(links_disabled());
    }
    if invite.status != InviteStatus::Pending {
        return Err(AppError::Conflict(format!(
            "this invite is {}; only pending or expired invites can be re-sent",
            invite.status.as_str()
        )));
    }
    issue(&mut invite, config, portal.settings.invite_ttl_seconds, now);
    invite.version += 1;
    let event = invite_event(&invite, EventType::InviteSent, Actor::admin(&token.id), now);
    store.update_invite(&invite, &event).await.map_err(|e| match e {
        StoreError::Conflict => AppError::Conflict("the invite changed meanwhile; read it again".into()),
        e => e.into(),
    })?;
    Ok(invite)
}

// ---------------------------------------------------------------- public: accepting an invite

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvite {
    pub token: String,
    pub password: String,
    pub name: String,
    #[serde(default)]
    pub username: Option<String>,
}

fn invite_gone(why: &str) -> AppError {
    AppError::Gone(format!("this invitation {why}; ask the portal's administrators for a new one"))
}

/// Accepts an invite: the invitee becomes an approved developer at once.
pub async fn accept_invite<S>(store: &S, portal_id: Uuid, body: AcceptInvite, now: Timestamp) -> Result<Developer, AppError>
where
    S: InviteStore + DeveloperStore,
{
    let mut f = Fields::default();
    let name = f.check("name", PersonName::parse(&body.name));
    let username = match body.username.as_deref().map(str::trim) {
        None | Some("") => Some(None),
        Some(u) => f.check("username", Username::parse(u)).map(Some),
    };
    if body.token.trim().is_empty() {
        f.push("token", "is required");
    }
    let id = token_id(body.token.trim(), INVITE_TOKEN_PREFIX);
    let invite = match id {
        Some(id) => store
            .get_invite(id)
            .await?
            .filter(|i| i.portal_id == portal_id && constant_time_eq(&i.token_hash, &token_hash(body.token.trim()))),
        None => None,
    };
    let email_input = invite.as_ref().map(|i| i.email.clone()).unwrap_or_default();
    let password =
        f.check("password", Password::parse(&body.password, &[&email_input, &body.name, body.username.as_deref().unwrap_or_default()]));
    f.finish()?;
    let invite = invite.ok_or_else(|| invite_gone("is not valid: it was re-sent, withdrawn or never existed"))?;
    match invite.status_at(now) {
        InviteStatus::Pending => {}
        InviteStatus::Expired => return Err(invite_gone("has expired")),
        InviteStatus::Accepted => return Err(invite_gone("was already used")),
        InviteStatus::Withdrawn => return Err(invite_gone("was withdrawn")),
    }
    let email = Email::parse(&invite.email).map_err(AppError::internal)?;
    let hash = hash_password(&password.expect("checked")).await?;
    let mut dev = new_developer(
        portal_id,
        Some(&email),
        username.expect("checked").as_ref(),
        &name.expect("checked"),
        DeveloperState::Approved,
        hash,
        now,
    );
    dev.email_verified = true;
    dev.invite_id = Some(invite.id);
    let mut accepted = invite.clone();
    accepted.status = InviteStatus::Accepted;
    accepted.accepted_by = Some(dev.id);
    accepted.version += 1;
    accepted.updated_at = now;
    let mut event = LifecycleEvent::new(EventType::InviteAccepted, &dev, Actor::developer(dev.id), now);
    event.to_state = Some(DeveloperState::Approved);
    event.invite_id = Some(invite.id);
    let new = NewDeveloper { developer: dev, approval: None, accepted_invite: Some(accepted), verification: None, event };
    match store.register(&new).await {
        Ok(()) => Ok(new.developer),
        Err(RegisterError::UsernameTaken) => Err(AppError::Conflict("this username is taken; choose another".into())),
        Err(RegisterError::EmailTaken(_)) => {
            Err(AppError::Conflict("an account with this email already exists; sign in or reset its password".into()))
        }
        Err(RegisterError::InviteUsed) => Err(invite_gone("was already used or re-sent")),
        Err(RegisterError::Store(e)) => Err(e.into()),
    }
}

// ---------------------------------------------------------------- sessions

/// Failed logins: per (account, client) at most 5 per 15-minute window, per account at most 20
/// (from all clients together). A victim's own client is only held back by the second, higher
/// limit, and never for longer than the rest of the window.
pub const THROTTLE_WINDOW_SECONDS: i64 = 900;
pub const MAX_FAILURES_PER_CLIENT: u64 = 5;
pub const MAX_FAILURES_PER_ACCOUNT: u64 = 20;

/// The throttle keys for a login attempt and the end of their window.
pub fn throttle_keys(portal_id: Uuid, login_norm: &str, client: &str, now: Timestamp) -> ([String; 2], Timestamp) {
    let bucket = now.timestamp().div_euclid(THROTTLE_WINDOW_SECONDS);
    let account = crate::crypto::sha256_hex(format!("{portal_id}|{login_norm}").as_bytes());
    let ends = chrono::DateTime::from_timestamp((bucket + 1) * THROTTLE_WINDOW_SECONDS, 0).unwrap_or(now);
    ([format!("login#{account}#{client}#{bucket}"), format!("login#{account}#{bucket}")], ends)
}

/// Whether these failure counts hold the attempt back.
pub fn throttled(client_failures: u64, account_failures: u64) -> bool {
    client_failures >= MAX_FAILURES_PER_CLIENT || account_failures >= MAX_FAILURES_PER_ACCOUNT
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    pub login: String,
    pub password: String,
}

pub struct LoggedIn {
    pub token: String,
    pub expires_at: Timestamp,
    pub developer: Developer,
}

const BAD_LOGIN: &str = "the login or password is wrong";

/// How often `last_active_at` is written at most.
pub const ACTIVITY_RESOLUTION_SECONDS: i64 = 300;

pub async fn login<S>(
    store: &S,
    config: &Config,
    portal_id: Uuid,
    body: LoginBody,
    client: &str,
    now: Timestamp,
) -> Result<LoggedIn, AppError>
where
    S: DeveloperStore + SessionStore + ThrottleStore + PortalStore,
{
    let mut f = Fields::default();
    let login = body.login.trim().to_lowercase();
    if login.is_empty() || login.chars().count() > 254 {
        f.push("login", "must be an email or username of at most 254 characters");
    }
    if body.password.is_empty() || body.password.chars().count() > PASSWORD_MAX_CHARS {
        f.push("password", format!("must be 1 to {PASSWORD_MAX_CHARS} characters"));
    }
    f.finish()?;
    let (keys, window_ends) = throttle_keys(portal_id, &login, client, now);
    let counts = store.failures(&keys).await?;
    if throttled(counts[0], counts[1]) {
        let wait = (window_ends - now).num_seconds().max(1);
        return Err(AppError::TooManyRequests {
            detail: "too many failed logins for this account; wait before trying again".into(),
            retry_after: wait as u64,
        });
    }
    let (id, portal) = tokio::join!(store.find_login(portal_id, &login, login.contains('@')), store.get_portal(portal_id));
    let (id, portal) = (id?, portal?);
    let dev = match id {
        Some(id) => store.get_developer(id).await?.filter(|d| d.portal_id == portal_id),
        None => None,
    };
    let ok = verify_password(body.password, dev.as_ref().and_then(|d| d.password_hash.clone())).await?;
    let dev = match (ok, dev) {
        (true, Some(d)) => d,
        _ => {
            store.add_failure(&keys, window_ends).await?;
            return Err(AppError::Unauthenticated(BAD_LOGIN.into()));
        }
    };
    if dev.must_change_password && dev.temporary_password_expires_at.is_some_and(|t| t <= now) {
        return Err(AppError::Unauthenticated("this one-time password has expired; ask an administrator for a new one".into()));
    }
    if !lifecycle::may_access(dev.state) {
        return Err(AppError::Forbidden(match dev.state {
            DeveloperState::Pending => "this account is pending approval; you can sign in once an administrator approves it".into(),
            other => format!("this account is {other}; contact the portal's administrators"),
        }));
    }
    if portal.is_some_and(|p| p.settings.require_verified_email) && !dev.email_verified {
        return Err(AppError::Forbidden("confirm your email address first: follow the link in the verification email".into()));
    }
    if counts[0] > 0 {
        store.clear(&keys[0]).await?;
    }
    let minted = mint_session_token(dev.id);
    let expires_at = now + chrono::Duration::seconds(config.session_ttl_seconds);
    store
        .put_session(&Session {
            developer_id: dev.id,
            portal_id,
            token_hash: minted.hash,
            epoch: dev.session_epoch,
            created_at: now,
            expires_at,
        })
        .await?;
    let mut dev = dev;
    if dev.last_active_at.is_none_or(|t| (now - t).num_seconds() >= ACTIVITY_RESOLUTION_SECONDS) {
        store.touch_developer(dev.id, now).await?;
        dev.last_active_at = Some(now);
    }
    Ok(LoggedIn { token: minted.token, expires_at, developer: dev })
}

/// An authenticated developer session.
pub struct Authenticated {
    pub developer: Developer,
    pub session: Session,
}

impl Authenticated {
    /// Routes other than `/me` and the password change refuse a session that must change its
    /// one-time password first.
    pub fn require_password_changed(&self) -> Result<(), AppError> {
        if self.developer.must_change_password {
            return Err(AppError::Forbidden("change your one-time password first (POST /me/password)".into()));
        }
        Ok(())
    }
}

fn bad_session() -> AppError {
    AppError::Unauthenticated("a valid session token is required; sign in again".into())
}

/// Checks a session token: one round trip for the session and its developer. A session ends
/// when it expires, when the developer's session epoch moved on (revocation, password change),
/// or when the developer is no longer approved.
pub async fn authenticate<S: SessionStore>(
    store: &S,
    bearer: Option<String>,
    portal_id: Uuid,
    now: Timestamp,
) -> Result<Authenticated, AppError> {
    let token = bearer.ok_or_else(bad_session)?;
    let id = token_id(&token, "ghs_").ok_or_else(bad_session)?;
    let hash = token_hash(&token);
    let (session, dev) = store.session_and_developer(id, &hash).await?;
    let (Some(session), Some(mut dev)) = (session, dev) else {
        return Err(bad_session());
    };
    let valid = constant_time_eq(&session.token_hash, &hash)
        && session.expires_at > now
        && session.epoch == dev.session_epoch
        && session.portal_id == portal_id
        && dev.portal_id == portal_id
        && lifecycle::may_access(dev.state)
        && !(dev.must_change_password && dev.temporary_password_expires_at.is_some_and(|t| t <= now));
    if !valid {
        return Err(bad_session());
    }
    if dev.last_active_at.is_none_or(|t| (now - t).num_seconds() >= ACTIVITY_RESOLUTION_SECONDS) {
        store.touch_developer(dev.id, now).await?;
        dev.last_active_at = Some(now);
    }
    Ok(Authenticated { developer: dev, session })
}

/// The developer with a new password: the one-time password requirement is gone and every
/// session ends (the session epoch moves on).
pub fn with_new_password(dev: &Developer, password_hash: String) -> Developer {
    let mut after = dev.clone();
    after.password_hash = Some(password_hash);
    after.must_change_password = false;
    after.temporary_password_expires_at = None;
    after.session_epoch += 1;
    after
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// Changes the password: clears `must_change_password` and ends every other session (the
/// session epoch moves on; this session is carried over).
pub async fn change_password<S: DeveloperStore>(
    store: &S,
    auth: Authenticated,
    body: PasswordChange,
    now: Timestamp,
) -> Result<(), AppError> {
    let dev = auth.developer;
    let inputs = [dev.email.as_deref().unwrap_or_default(), dev.name.as_str(), dev.username.as_deref().unwrap_or_default()];
    let mut f = Fields::default();
    let new = f.check("new_password", Password::parse(&body.new_password, &inputs));
    if body.new_password == body.current_password {
        f.push("new_password", "must differ from the current password");
    }
    f.finish()?;
    if !verify_password(body.current_password, dev.password_hash.clone()).await? {
        return Err(AppError::field("current_password", "is not the current password"));
    }
    let after = with_new_password(&dev, hash_password(&new.expect("checked")).await?);
    let mut keep = auth.session;
    keep.epoch = after.session_epoch;
    let change = DeveloperChange { keep_session: Some(keep), ..DeveloperChange::by_developer(dev, after, EventType::PasswordChanged, now) };
    store.change_developer(&change).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_from_one_client_or_twenty_in_all_hold_logins_back() {
        assert!(!throttled(4, 4));
        assert!(throttled(5, 5));
        assert!(!throttled(0, 19));
        assert!(throttled(0, 20));
    }

    #[test]
    fn throttle_windows_are_fifteen_minutes_and_keys_separate_clients_and_accounts() {
        let p = Uuid::new_v4();
        let t = chrono::DateTime::parse_from_rfc3339("2026-01-01T10:05:00Z").unwrap().with_timezone(&chrono::Utc);
        let (k, ends) = throttle_keys(p, "jane", "1.2.3.4", t);
        assert_eq!(ends.to_rfc3339(), "2026-01-01T10:15:00+00:00");
        let (k2, _) = throttle_keys(p, "jane", "5.6.7.8", t);
        assert_ne!(k[0], k2[0], "another client has its own counter");
        assert_eq!(k[1], k2[1], "the account counter is shared");
        let (k3, _) = throttle_keys(p, "jane", "1.2.3.4", t + chrono::Duration::minutes(15));
        assert_ne!(k[0], k3[0], "a new window starts afresh");
        assert!(!k[0].contains("jane"), "keys do not carry the login in clear");
    }

    #[test]
    fn one_time_passwords_need_length_and_some_strength() {
        assert!(parse_temporary_password("temporary-password-123", &["john.doe"]).is_ok());
        assert!(parse_temporary_password("short", &[]).is_err());
        assert!(parse_temporary_password("password", &[]).is_err());
    }

    #[test]
    fn an_invite_body_with_emails_is_a_link_invite_and_otherwise_a_password_invite() {
        let links: Map<String, Value> = serde_json::from_str(r#"{"emails": ["a@x.com"]}"#).unwrap();
        assert!(matches!(InviteRequest::from_body(links), Ok(InviteRequest::Links(_))));
        let pw: Map<String, Value> =
            serde_json::from_str(r#"{"username": "john", "password": "temporary-password-123", "name": "John"}"#).unwrap();
        assert!(matches!(InviteRequest::from_body(pw), Ok(InviteRequest::Password(_))));
        let bad: Map<String, Value> = serde_json::from_str(r#"{"emails": ["a@x.com"], "username": "x"}"#).unwrap();
        assert!(InviteRequest::from_body(bad).is_err());
    }
}
