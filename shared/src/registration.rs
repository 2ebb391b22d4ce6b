//! Self-registration: validation, the anti-automation counters, the pending developer with
//! its approval request, verification link and event, and the same answer for an address that
//! already has an account.

use serde::Deserialize;
use uuid::Uuid;

use crate::config::Config;
use crate::crypto::{hash_password, sha256_hex};
use crate::domain::*;
use crate::error::AppError;
use crate::fields::Fields;
use crate::store::*;

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
#[tracing::instrument(skip_all, fields(portal_id = %portal_id))]
pub async fn register<S>(
    store: &S,
    config: &Config,
    portal_id: Uuid,
    body: RegisterBody,
    client: &str,
    now: Timestamp,
) -> Result<Registered, AppError>
where
    S: PortalStore + DeveloperStore + EventLog + ThrottleStore,
{
    let valid = validate_registration(&body)?;
    let portal = store.get_portal(portal_id).await?.ok_or(AppError::not_found("portal"))?;
    let limits = config.rate_limits.for_portal(&portal.settings.rate_limits);
    crate::throttle::admit(store, &limits.gates(crate::throttle::Action::Register, portal_id, client, now), now).await?;
    if !portal.settings.self_registration {
        return Err(AppError::Forbidden("self-registration is disabled for this portal; ask its administrators for an invite".into()));
    }
    let password_hash = hash_password(&valid.password).await?;
    let mut developer = Developer::new_builtin(
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
    let approval = Approval::for_registration(&developer, now);
    let mut event = LifecycleEvent::new(EventType::Registered, &developer, Actor::anonymous(), now).kept_for(&portal.settings);
    event.to_state = Some(DeveloperState::Pending);
    let verification =
        crate::tokens::new_link(config, &developer, LinkPurpose::Verify, portal.settings.verification_token_ttl_seconds, now);
    event.token_nonce = Some(verification.nonce.clone());
    event.expires_at = Some(verification.expires_at);
    let new = NewDeveloper { developer, approval: Some(approval), accepted_invite: None, verification: Some(verification), event };
    match store.register(&new).await {
        Ok(()) => Ok(Registered { id: new.developer.id }),
        Err(RegisterError::EmailTaken(owner)) => {
            if let Some((owner, owner_email)) = owner {
                let mut attempt = LifecycleEvent::new(EventType::RegistrationAttempted, &new.developer, Actor::anonymous(), now)
                    .kept_for(&portal.settings);
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
        Err(e) => Err(refusal(e, || AppError::internal("a taken address is answered above"), lost_race, lost_race)),
    }
}

fn lost_race() -> AppError {
    StoreError::Conflict.into()
}

/// What a refused new-developer write answers, written once for the three ways a developer is
/// created (self-registration, password invite, accepted invite): a taken username is the same
/// everywhere; a taken address, a used invite and a lost race say what they mean on each path.
pub fn refusal(
    e: RegisterError,
    email_taken: impl FnOnce() -> AppError,
    invite_used: impl FnOnce() -> AppError,
    lost_race: impl FnOnce() -> AppError,
) -> AppError {
    match e {
        RegisterError::UsernameTaken => AppError::Conflict("this username is taken; choose another".into()),
        RegisterError::EmailTaken(_) => email_taken(),
        RegisterError::InviteUsed => invite_used(),
        RegisterError::Store(StoreError::Conflict) => lost_race(),
        RegisterError::Store(e) => e.into(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_validation_names_every_bad_field() {
        let body = RegisterBody { email: "nope".into(), password: "123".into(), name: "".into(), username: Some("x".into()) };
        match validate_registration(&body) {
            Err(AppError::Invalid(errs)) => {
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
