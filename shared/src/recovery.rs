//! Password reset (OWASP forgot-password: same answer for known and unknown addresses,
//! single-use expiring tokens, a newer request voids older tokens, per-address throttling) and
//! email verification.

use serde::Deserialize;
use uuid::Uuid;

use crate::crypto::{constant_time_eq, hash_password, sha256_hex, token_hash, token_id};
use crate::domain::*;
use crate::error::AppError;
use crate::fields::Fields;
use crate::store::*;

/// At most this many reset emails per address per hour; further requests still answer 202.
pub const MAX_RESETS_PER_HOUR: u64 = 3;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    pub email: String,
}

/// The counter of reset requests for one address (3 per clock hour).
pub fn reset_counter(portal_id: Uuid, email_norm: &str, now: Timestamp) -> crate::throttle::Counter {
    let (hour, ends) = crate::throttle::window(now, crate::throttle::HOUR_SECONDS);
    crate::throttle::Counter {
        key: format!("reset#{}#{hour}", sha256_hex(format!("{portal_id}|{email_norm}").as_bytes())),
        limit: MAX_RESETS_PER_HOUR,
        sub: None,
        window_ends: ends,
    }
}

/// The neutral event of a reset request: the address as typed (parsed), no developer. The
/// stream consumer decides whether a link is issued and mailed.
pub fn reset_request_event(portal_id: Uuid, email: &Email, now: Timestamp) -> LifecycleEvent {
    let snapshot = DeveloperSnapshot { email: Some(email.as_str().to_string()), name: String::new(), username: None };
    LifecycleEvent::of_nobody(EventType::ResetRequested, portal_id, snapshot, now)
}

/// `POST .../password-reset`: always 202 (unless reset is switched off for the portal). The
/// request does the same work whatever the address: the portal read and the address counter
/// (concurrently), then, under the limit (3 per address per hour, counted for every request),
/// one neutral `developer.password_reset_requested` event. Whether the address belongs to an
/// approved developer, and so whether a link is issued and mailed, is decided by the stream
/// consumer ([`crate::consumer`]), after the answer.
#[tracing::instrument(skip_all, fields(portal_id = %portal_id))]
pub async fn request_reset<S>(store: &S, portal_id: Uuid, body: ResetRequest, now: Timestamp) -> Result<(), AppError>
where
    S: PortalStore + ThrottleStore + EventLog,
{
    let email = Email::parse(&body.email).map_err(|m| AppError::field("email", m))?;
    let counter = reset_counter(portal_id, email.normalized(), now);
    let (portal, reserved) = tokio::join!(store.get_portal(portal_id), store.reserve(&counter));
    let portal = portal?.ok_or(AppError::not_found("portal"))?;
    if !portal.settings.reset_email {
        return Err(AppError::Forbidden(
            "password reset is disabled for this portal; ask its administrators to set a new password for you".into(),
        ));
    }
    if reserved?.is_none() {
        return Ok(());
    }
    store.record_event(&reset_request_event(portal_id, &email, now).kept_for(&portal.settings), false).await?;
    Ok(())
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
    let id = token_id(token, crate::tokens::link_prefix(purpose)).ok_or_else(|| link_gone(what))?;
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
#[tracing::instrument(skip_all, fields(portal_id = %portal_id))]
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
    let mut after = dev.with_new_password(hash_password(&password.expect("checked")).await?);
    // The link was mailed to the address: using it confirms the address too.
    after.email_verified = true;
    let change = DeveloperChange { consume_link: Some(link), ..DeveloperChange::by_developer(dev, after, EventType::PasswordReset, now) };
    store.change_developer(&change).await.on_conflict(|| link_gone("password reset"))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmail {
    pub token: String,
}

/// `POST .../verify-email`: marks the address verified and consumes the token.
#[tracing::instrument(skip_all, fields(portal_id = %portal_id))]
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
    store.change_developer(&change).await.on_conflict(|| link_gone("verification"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{self, MemStore};

    #[tokio::test]
    async fn a_reset_request_does_the_same_work_for_a_known_approved_address_and_an_unknown_one() {
        let store = MemStore::default();
        let portal = fakes::portal(PortalSettings::default());
        store.add_portal(portal.clone());
        store.add_developer(fakes::developer(&portal, Origin::Invited, Some("known@example.com"), None, DeveloperState::Approved, "x"));
        let now = chrono::Utc::now();
        let ask = |email: &str| request_reset(&store, portal.id, ResetRequest { email: email.into() }, now);
        ask("known@example.com").await.unwrap();
        let known = store.take_calls();
        ask("unknown@example.com").await.unwrap();
        let unknown = store.take_calls();
        assert_eq!(known, unknown);
        assert_eq!(known, ["get portal", "reserve reset account", "put event ResetRequested developer false"]);
    }

    #[tokio::test]
    async fn reset_requests_over_the_address_limit_answer_the_same_and_write_nothing() {
        let store = MemStore::default();
        let portal = fakes::portal(PortalSettings::default());
        store.add_portal(portal.clone());
        let now = chrono::Utc::now();
        for _ in 0..MAX_RESETS_PER_HOUR + 2 {
            request_reset(&store, portal.id, ResetRequest { email: "Flood@example.com".into() }, now).await.unwrap();
        }
        let events = store.take_calls().iter().filter(|c| c.starts_with("put event")).count();
        assert_eq!(events, MAX_RESETS_PER_HOUR as usize);
    }
}
