//! Password reset (OWASP forgot-password: same answer for known and unknown addresses,
//! single-use expiring tokens, a newer request voids older tokens, per-address throttling) and
//! email verification.

use serde::Deserialize;
use uuid::Uuid;

use crate::app::Config;
use crate::crypto::{constant_time_eq, derive_token, hash_password, nonce, sha256_hex, token_hash, token_id};
use crate::domain::*;
use crate::error::AppError;
use crate::http::Fields;
use crate::store::*;

/// At most this many reset emails per address per hour; further requests still answer 202.
pub const MAX_RESETS_PER_HOUR: u64 = 3;

/// A fresh single-use link token for `developer`.
pub fn new_link(config: &Config, developer: &Developer, purpose: LinkPurpose, ttl_seconds: u64, now: Timestamp) -> LinkToken {
    let nonce = nonce();
    let minted = derive_token(&config.token_secret, purpose.prefix(), purpose.as_str(), developer.id, &nonce);
    LinkToken {
        developer_id: developer.id,
        portal_id: developer.portal_id,
        purpose,
        nonce,
        token_hash: minted.hash,
        created_at: now,
        expires_at: now + chrono::Duration::seconds(ttl_seconds as i64),
    }
}

/// The link token the mail for `event` carries (rebuilt from the event's nonce and the secret).
pub fn link_for_event(config: &Config, purpose: LinkPurpose, event: &LifecycleEvent) -> Option<String> {
    let nonce = event.token_nonce.as_deref()?;
    Some(derive_token(&config.token_secret, purpose.prefix(), purpose.as_str(), event.developer_id?, nonce).token)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    pub email: String,
}

/// `POST .../password-reset`: always 202 (unless reset is switched off for the portal). Only a
/// known, approved developer gets a link, at most three per hour per address.
pub async fn request_reset<S>(store: &S, config: &Config, portal_id: Uuid, body: ResetRequest, now: Timestamp) -> Result<(), AppError>
where
    S: PortalStore + SessionStore + DeveloperStore + ThrottleStore + LinkStore,
{
    let email = Email::parse(&body.email).map_err(|m| AppError::field("email", m))?;
    let portal = store.get_portal(portal_id).await?.ok_or(AppError::NotFound("portal"))?;
    if !portal.settings.reset_email {
        return Err(AppError::Forbidden(
            "password reset is disabled for this portal; ask its administrators to set a new password for you".into(),
        ));
    }
    let hour = now.timestamp().div_euclid(3600);
    let key = format!("reset#{}#{hour}", sha256_hex(format!("{portal_id}|{}", email.normalized()).as_bytes()));
    let window_ends = chrono::DateTime::from_timestamp((hour + 1) * 3600, 0).unwrap_or(now);
    let (count, id) = tokio::join!(store.failures(std::slice::from_ref(&key)), store.find_login(portal_id, email.normalized(), true));
    if count?.first().copied().unwrap_or(0) >= MAX_RESETS_PER_HOUR {
        return Ok(());
    }
    store.add_failure(std::slice::from_ref(&key), window_ends).await?;
    let Some(id) = id? else { return Ok(()) };
    let Some(dev) = store.get_developer(id).await?.filter(|d| d.portal_id == portal_id && lifecycle::may_access(d.state)) else {
        return Ok(());
    };
    let link = new_link(config, &dev, LinkPurpose::Reset, portal.settings.reset_token_ttl_seconds, now);
    let mut event = LifecycleEvent::new(EventType::ResetRequested, &dev, Actor::anonymous(), now);
    event.token_nonce = Some(link.nonce.clone());
    event.expires_at = Some(link.expires_at);
    match store.put_link(&link, &event).await {
        Ok(()) | Err(StoreError::Conflict) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn link_gone(what: &str) -> AppError {
    AppError::Gone(format!("this {what} link is invalid, used, replaced by a newer one, or expired; ask for a new one"))
}

/// Finds the live link a token names: right purpose, portal, hash and expiry.
async fn live_link<S: LinkStore>(
    store: &S,
    purpose: LinkPurpose,
    portal_id: Uuid,
    token: &str,
    now: Timestamp,
    what: &str,
) -> Result<(LinkToken, Developer), AppError> {
    let token = token.trim();
    let id = token_id(token, purpose.prefix()).ok_or_else(|| link_gone(what))?;
    let (link, dev) = store.link_and_developer(id, purpose).await?;
    match (link, dev) {
        (Some(link), Some(dev))
            if link.portal_id == portal_id
                && dev.portal_id == portal_id
                && constant_time_eq(&link.token_hash, &token_hash(token))
                && link.expires_at > now =>
        {
            Ok((link, dev))
        }
        _ => Err(link_gone(what)),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetConfirm {
    pub token: String,
    pub new_password: String,
}

/// `POST .../password-reset/confirm`: sets the password (strength rules apply), ends every
/// session, consumes the token, and owes the reset-success email.
pub async fn confirm_reset<S: LinkStore + DeveloperStore>(
    store: &S,
    portal_id: Uuid,
    body: ResetConfirm,
    now: Timestamp,
) -> Result<(), AppError> {
    let mut f = Fields::default();
    if body.token.trim().is_empty() {
        f.push("token", "is required");
    }
    let found = live_link(store, LinkPurpose::Reset, portal_id, &body.token, now, "password reset").await;
    let inputs: Vec<String> = match &found {
        Ok((_, d)) => vec![d.email.clone().unwrap_or_default(), d.name.clone(), d.username.clone().unwrap_or_default()],
        Err(_) => vec![],
    };
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let password = f.check("new_password", Password::parse(&body.new_password, &inputs));
    f.finish()?;
    let (link, dev) = found?;
    if !lifecycle::may_access(dev.state) {
        return Err(link_gone("password reset"));
    }
    let after = crate::accounts::with_new_password(&dev, hash_password(&password.expect("checked")).await?);
    let change = DeveloperChange { consume_link: Some(link), ..DeveloperChange::by_developer(dev, after, EventType::PasswordReset, now) };
    store.change_developer(&change).await.map_err(|e| match e {
        StoreError::Conflict => link_gone("password reset"),
        e => e.into(),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmail {
    pub token: String,
}

/// `POST .../verify-email`: marks the address verified and consumes the token.
pub async fn verify_email<S: LinkStore + DeveloperStore>(
    store: &S,
    portal_id: Uuid,
    body: VerifyEmail,
    now: Timestamp,
) -> Result<(), AppError> {
    if body.token.trim().is_empty() {
        return Err(AppError::field("token", "is required"));
    }
    let (link, dev) = live_link(store, LinkPurpose::Verify, portal_id, &body.token, now, "verification").await?;
    let mut after = dev.clone();
    after.email_verified = true;
    let change = DeveloperChange { consume_link: Some(link), ..DeveloperChange::by_developer(dev, after, EventType::EmailVerified, now) };
    store.change_developer(&change).await.map_err(|e| match e {
        StoreError::Conflict => link_gone("verification"),
        e => e.into(),
    })
}
