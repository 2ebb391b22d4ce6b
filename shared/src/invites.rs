//! Invites (admin): registration links mailed to addresses and one-time passwords for a
//! username; withdrawing and re-sending; and accepting an invite (public).

use serde::Deserialize;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::access::{invite_for, portal_for};
use crate::config::Config;
use crate::crypto::{constant_time_eq, hash_password, nonce, token_hash, token_id};
use crate::domain::*;
use crate::error::AppError;
use crate::fields::{parse_limit, Fields};
use crate::registration::refusal;
use crate::store::*;
use crate::tokens;

/// At most this many addresses per invite request.
pub const MAX_INVITES_PER_REQUEST: usize = 100;

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
        retention_days: None,
        subject: None,
    }
}

/// (Re)issues an invite's link: a fresh nonce, token hash and expiry.
fn issue(invite: &mut Invite, config: &Config, ttl_seconds: u64, now: Timestamp) {
    invite.nonce = nonce();
    invite.token_hash = tokens::invite_token(config, invite.id, &invite.nonce).hash;
    invite.expires_at = now + chrono::Duration::seconds(ttl_seconds as i64);
    invite.updated_at = now;
}

fn links_disabled() -> AppError {
    AppError::Forbidden("registration-link invites are disabled for this portal (invite_email is off); invite with a username and one-time password instead".into())
}

/// One registration-link invite per address; duplicates, existing developers and addresses
/// already invited are reported per address, not fatal.
#[tracing::instrument(skip_all, fields(portal_id = %portal_id))]
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
            Some(inv) => Some(
                store
                    .create_invite(inv, &invite_event(inv, EventType::InviteSent, actor.clone(), now).kept_for(&portal.settings), now)
                    .await,
            ),
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
/// login and stops working after `temporary_password_ttl_seconds`; the admin chose the password,
/// so it is held to [`parse_temporary_password`].
#[tracing::instrument(skip_all, fields(portal_id = %portal_id))]
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
    let inputs = [body.username.as_str(), body.name.as_str(), body.email.as_deref().unwrap_or_default()];
    let chosen = parse_temporary_password(&body.password, &inputs);
    let new = TemporaryAccount { username: &body.username, name: &body.name, email: body.email.as_deref() };
    create_with_temporary_password(store, token, portal_id, new, &body.password, |f| f.check("password", chosen), now).await
}

/// The same account with a one-time password generated here ([`generate_temporary_password`]:
/// 139 random bits, so no strength estimate, and zxcvbn stays out of the binaries that only
/// generate: the console). Answers the developer and the password, to be shown once.
#[tracing::instrument(skip_all, fields(portal_id = %portal_id))]
pub async fn invite_with_generated_password<S>(
    store: &S,
    token: &AdminToken,
    portal_id: Uuid,
    new: TemporaryAccount<'_>,
    now: Timestamp,
) -> Result<(Developer, String), AppError>
where
    S: PortalStore + DeveloperStore,
{
    let password = generate_temporary_password();
    let dev = create_with_temporary_password(store, token, portal_id, new, &password, |_| None, now).await?;
    Ok((dev, password))
}

/// Who a one-time-password account is for (the body of an invite without its password).
pub struct TemporaryAccount<'a> {
    pub username: &'a str,
    pub name: &'a str,
    pub email: Option<&'a str>,
}

/// The alphabet of generated one-time passwords: letters and digits without the ones read
/// alike (0 O o, 1 l I).
const GENERATED_ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A one-time password of 24 characters from [`GENERATED_ALPHABET`] (56 symbols: 139 bits) in
/// groups of four, drawn from the OS's CSPRNG without modulo bias.
pub fn generate_temporary_password() -> String {
    use rand::Rng;
    let mut rng = rand::rngs::OsRng;
    let mut out = String::with_capacity(29);
    for i in 0..24 {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        out.push(char::from(GENERATED_ALPHABET[rng.gen_range(0..GENERATED_ALPHABET.len())]));
    }
    out
}

/// Creates the approved account of a one-time password; `password_check` adds the password's
/// own field check (monomorphised per caller, so a caller that passes none links no estimator).
async fn create_with_temporary_password<S, C>(
    store: &S,
    token: &AdminToken,
    portal_id: Uuid,
    new: TemporaryAccount<'_>,
    password: &str,
    password_check: C,
    now: Timestamp,
) -> Result<Developer, AppError>
where
    S: PortalStore + DeveloperStore,
    C: FnOnce(&mut Fields) -> Option<()>,
{
    let mut f = Fields::default();
    let username = f.check("username", Username::parse(new.username));
    let name = f.check("name", PersonName::parse(new.name));
    let email = match new.email.map(str::trim) {
        None | Some("") => Some(None),
        Some(e) => f.check("email", Email::parse(e)).map(Some),
    };
    password_check(&mut f);
    f.finish()?;
    let (username, name, email) = (username.expect("checked"), name.expect("checked"), email.expect("checked"));
    let portal = portal_for(store, token, portal_id).await?;
    let hash = hash_password(&Password::unchecked(password)).await?;
    let mut dev =
        Developer::new_builtin(Origin::Admin, portal_id, email.as_ref(), Some(&username), &name, DeveloperState::Approved, hash, now);
    dev.must_change_password = true;
    dev.temporary_password_expires_at = Some(now + chrono::Duration::seconds(portal.settings.temporary_password_ttl_seconds as i64));
    let mut event = LifecycleEvent::new(EventType::Created, &dev, Actor::admin(&token.id), now).kept_for(&portal.settings);
    event.to_state = Some(DeveloperState::Approved);
    let new = NewDeveloper { developer: dev, approval: None, accepted_invite: None, verification: None, event };
    match store.register(&new).await {
        Ok(()) => Ok(new.developer),
        Err(e) => {
            let concurrently = || AppError::Conflict("the developer was created concurrently".into());
            Err(refusal(
                e,
                || AppError::Conflict("a developer with this email already exists in this portal".into()),
                concurrently,
                concurrently,
            ))
        }
    }
}

#[tracing::instrument(skip_all, fields(portal_id = %portal_id, status = ?status))]
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
#[tracing::instrument(skip_all, fields(portal_id = %portal_id, invite_id = %id))]
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
    invite.bump(now);
    let event = invite_event(&invite, EventType::InviteWithdrawn, Actor::admin(&token.id), now);
    store.update_invite(&invite, &event).await.on_conflict(|| AppError::Conflict("the invite changed meanwhile; read it again".into()))
}

/// Re-sends an invite with a new token and expiry; the old link is dead.
#[tracing::instrument(skip_all, fields(portal_id = %portal_id, invite_id = %id))]
pub async fn resend_invite<S: InviteStore + PortalStore>(
    store: &S,
    config: &Config,
    token: &AdminToken,
    portal_id: Uuid,
    id: Uuid,
    now: Timestamp,
) -> Result<Invite, AppError> {
    let mut invite = invite_for(store, token, portal_id, id).await?;
    let portal = store.get_portal(portal_id).await?.ok_or(AppError::not_found("portal"))?;
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
    invite.bump(now);
    let event = invite_event(&invite, EventType::InviteSent, Actor::admin(&token.id), now).kept_for(&portal.settings);
    store.update_invite(&invite, &event).await.on_conflict(|| AppError::Conflict("the invite changed meanwhile; read it again".into()))?;
    Ok(invite)
}

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
#[tracing::instrument(skip_all, fields(portal_id = %portal_id))]
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
    let id = token_id(body.token.trim(), tokens::INVITE_TOKEN_PREFIX);
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
    let mut dev = Developer::new_builtin(
        Origin::Invited,
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
    accepted.bump(now);
    let mut event = LifecycleEvent::new(EventType::InviteAccepted, &dev, Actor::developer(dev.id), now);
    event.to_state = Some(DeveloperState::Approved);
    event.invite_id = Some(invite.id);
    let new = NewDeveloper { developer: dev, approval: None, accepted_invite: Some(accepted), verification: None, event };
    match store.register(&new).await {
        Ok(()) => Ok(new.developer),
        Err(e) => Err(refusal(
            e,
            || AppError::Conflict("an account with this email already exists; sign in or reset its password".into()),
            || invite_gone("was already used or re-sent"),
            || StoreError::Conflict.into(),
        )),
    }
}
#[cfg(test)]
mod tests {
    use super::*;

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
