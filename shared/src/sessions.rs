//! Developer sessions: login (with the failed-sign-in and anti-automation counters), session
//! checks, the password change, and what a session may do before its one-time password changes.

use serde::Deserialize;
use uuid::Uuid;

use crate::config::Config;
use crate::crypto::{constant_time_eq, hash_password, token_hash, token_id, verify_password};
use crate::domain::*;
use crate::error::AppError;
use crate::fields::Fields;
use crate::store::*;
use crate::{throttle, tokens};

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

/// Signs a developer in. Known and unknown logins make the same round trips:
///
/// 1. the email or username marker and the portal, concurrently;
/// 2. the developer (a placeholder id for an unknown login, which reads nothing), the
///    reservation of this attempt on the account's failed-sign-in counter (keyed by the
///    developer, or by the login string when none answers) and on the per-client and
///    per-portal anti-automation counters (at the portal's limits), concurrently;
/// 3. Argon2id (a dummy hash when unknown), then, only on success, the session, the release of
///    the reservation and the activity stamp, concurrently.
///
/// A wrong password keeps its reservation: that is the failure count. Until a self-registered
/// developer has confirmed the address (with `require_verified_email`), even the right
/// password answers the generic 401 and counts as a failure, so a fresh registration cannot
/// be told from a wrong password on an existing account.
#[tracing::instrument(skip_all, fields(portal_id = %portal_id))]
pub async fn login<S>(
    store: &S,
    config: &Config,
    portal_id: Uuid,
    body: LoginBody,
    client: &str,
    now: Timestamp,
) -> Result<LoggedIn, AppError>
where
    S: DeveloperStore + SessionStore + ThrottleStore + PortalStore + EventLog,
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
    let (id, portal) = tokio::join!(store.find_login(portal_id, &login, login.contains('@')), store.get_portal(portal_id));
    let (id, portal) = (id?, portal?.ok_or(AppError::not_found("portal"))?);
    let gates = config.rate_limits.for_portal(&portal.settings.rate_limits).gates(throttle::Action::Login, portal_id, client, now);
    let account = match id {
        Some(id) => throttle::Account::Developer(id),
        None => throttle::Account::Unknown(&login),
    };
    let attempt = throttle::account_counter(portal_id, account, client, now);
    let (dev, reserved, admitted) = tokio::join!(
        store.get_developer(id.unwrap_or_else(|| throttle::placeholder_developer(portal_id, &login))),
        store.reserve(&attempt),
        throttle::admit(store, &gates, now)
    );
    let reserved = reserved?;
    if let Err(refused) = admitted {
        if reserved.is_some() {
            // Not an attempt on the account after all.
            store.release(&attempt, false).await?;
        }
        return Err(refused);
    }
    if reserved.is_none() {
        return Err(throttle::account_locked(&attempt, now));
    }
    let dev = dev?.filter(|d| id.is_some() && d.portal_id == portal_id);
    let ok = verify_password(body.password, dev.as_ref().and_then(|d| d.password_hash.clone())).await?;
    let dev = match (ok, dev) {
        (true, Some(d)) if !(portal.settings.require_verified_email && d.must_confirm_email()) => d,
        // Wrong password, unknown login, or an address nobody confirmed yet: one answer, the
        // reserved attempt stays counted, and one event (the same write whether the account
        // exists or not).
        (_, dev) => {
            store.record_event(&login_failed(portal_id, dev.as_ref(), now).kept_for(&portal.settings), false).await?;
            return Err(AppError::Unauthenticated(BAD_LOGIN.into()));
        }
    };
    // The right password from here on: the attempt is not a failure.
    if dev.must_change_password && dev.temporary_password_expires_at.is_some_and(|t| t <= now) {
        store.release(&attempt, false).await?;
        return Err(AppError::Unauthenticated("this one-time password has expired; ask an administrator for a new one".into()));
    }
    if let Some(refused) = access_refusal(dev.state) {
        store.release(&attempt, false).await?;
        return Err(refused);
    }
    let (logged_in, released) = tokio::join!(start_session(store, config, &portal.settings, dev, None, now), store.release(&attempt, true));
    released?;
    logged_in
}

/// A signed-in developer's new session: stored with its `developer.logged_in` event (kept as
/// the portal keeps events; `reason` says how, e.g. "sso"), and the activity stamp when the
/// last one is [`ACTIVITY_RESOLUTION_SECONDS`] old, concurrently.
async fn start_session<S: SessionStore>(
    store: &S,
    config: &Config,
    settings: &PortalSettings,
    mut dev: Developer,
    reason: Option<&str>,
    now: Timestamp,
) -> Result<LoggedIn, AppError> {
    let (minted, session) = new_session(&dev, config, now);
    let touch = dev.last_active_at.is_none_or(|t| (now - t).num_seconds() >= ACTIVITY_RESOLUTION_SECONDS);
    let mut signed_in = LifecycleEvent::signed_in(&dev, now).kept_for(settings);
    signed_in.reason = reason.map(str::to_string);
    let (stored, touched) = tokio::join!(store.put_session(&session, &signed_in), async {
        if touch {
            store.touch_developer(dev.id, now).await
        } else {
            Ok(())
        }
    });
    stored?;
    touched?;
    if touch {
        dev.last_active_at = Some(now);
    }
    Ok(LoggedIn { token: minted.token, expires_at: session.expires_at, developer: dev })
}

/// The `developer.login_failed` event: of the developer, or of no developer for a login that
/// names none (nothing of what was typed is kept).
fn login_failed(portal_id: Uuid, dev: Option<&Developer>, now: Timestamp) -> LifecycleEvent {
    match dev {
        Some(d) => {
            let mut e = LifecycleEvent::new(EventType::LoginFailed, d, Actor::anonymous(), now);
            e.approval_id = None;
            e
        }
        None => {
            let mut e = LifecycleEvent::of_nobody(
                EventType::LoginFailed,
                portal_id,
                DeveloperSnapshot { email: None, name: String::new(), username: None },
                now,
            );
            e.reason = Some("unknown login".into());
            e
        }
    }
}

/// Why a developer in `state` may not sign in (403 naming the state), for login and single
/// sign-on alike.
pub fn access_refusal(state: DeveloperState) -> Option<AppError> {
    (!lifecycle::may_access(state)).then(|| {
        AppError::Forbidden(match state {
            DeveloperState::Pending => "this account is pending approval; you can sign in once an administrator approves it".into(),
            other => format!("this account is {other}; contact the portal's administrators"),
        })
    })
}

/// A new session of a developer (its token, and the session as stored), in its current epoch.
fn new_session(dev: &Developer, config: &Config, now: Timestamp) -> (crate::crypto::MintedToken, Session) {
    let minted = tokens::mint_session_token(dev.id);
    let expires_at = now + chrono::Duration::seconds(config.session_ttl_seconds);
    let session = Session {
        developer_id: dev.id,
        portal_id: dev.portal_id,
        token_hash: minted.hash.clone(),
        epoch: dev.session_epoch,
        created_at: now,
        expires_at,
    };
    (minted, session)
}

/// Opens a session for a developer another way has signed in (single sign-on): refused as
/// login refuses a developer who may not sign in; then as after a password ([`start_session`],
/// the event's `reason` "sso").
pub async fn open_session<S: SessionStore>(
    store: &S,
    config: &Config,
    settings: &PortalSettings,
    dev: Developer,
    now: Timestamp,
) -> Result<LoggedIn, AppError> {
    if let Some(refused) = access_refusal(dev.state) {
        return Err(refused);
    }
    start_session(store, config, settings, dev, Some("sso"), now).await
}

/// An authenticated developer session.
pub struct Authenticated {
    pub developer: Developer,
    pub session: Session,
}

impl Authenticated {
    /// Routes other than `/me`, the password change and logout refuse a session that must
    /// change its one-time password first.
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
#[tracing::instrument(skip_all, fields(portal_id = %portal_id))]
pub async fn authenticate<S: SessionStore>(
    store: &S,
    bearer: Option<String>,
    portal_id: Uuid,
    now: Timestamp,
) -> Result<Authenticated, AppError> {
    let token = bearer.ok_or_else(bad_session)?;
    let id = token_id(&token, tokens::SESSION_TOKEN_PREFIX).ok_or_else(bad_session)?;
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// Changes the password: clears `must_change_password` and ends every other session (the
/// session epoch moves on; this session is carried over). The check of `current_password` is
/// a sign-in attempt: it is reserved on the account's failed-sign-in counter first, and a wrong
/// one stays counted there (429 at the limit, as for login).
#[tracing::instrument(skip_all, fields(portal_id = %auth.developer.portal_id, developer_id = %auth.developer.id))]
pub async fn change_password<S: DeveloperStore + ThrottleStore>(
    store: &S,
    auth: Authenticated,
    body: PasswordChange,
    client: &str,
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
    let attempt = throttle::account_counter(dev.portal_id, throttle::Account::Developer(dev.id), client, now);
    if store.reserve(&attempt).await?.is_none() {
        return Err(throttle::account_locked(&attempt, now));
    }
    if !verify_password(body.current_password, dev.password_hash.clone()).await? {
        return Err(AppError::field("current_password", "is not the current password"));
    }
    let after = dev.with_new_password(hash_password(&new.expect("checked")).await?);
    let mut keep = auth.session;
    keep.epoch = after.session_epoch;
    let change = DeveloperChange { keep_session: Some(keep), ..DeveloperChange::by_developer(dev, after, EventType::PasswordChanged, now) };
    let (changed, released) = tokio::join!(store.change_developer(&change), store.release(&attempt, true));
    changed?;
    released?;
    Ok(())
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{self, MemStore};

    const PASSWORD: &str = "correct horse battery staple";

    fn hash() -> &'static str {
        static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        HASH.get_or_init(|| crate::crypto::hash_password_blocking(PASSWORD).unwrap())
    }

    /// A portal with one approved, confirmed developer `jane` <jane@example.com>.
    fn with_jane(settings: PortalSettings) -> (MemStore, Portal, Developer) {
        let store = MemStore::default();
        let portal = fakes::portal(settings);
        let mut jane =
            fakes::developer(&portal, Origin::Registered, Some("jane@example.com"), Some("jane"), DeveloperState::Approved, hash());
        jane.email_verified = true;
        store.add_portal(portal.clone());
        store.add_developer(jane.clone());
        (store, portal, jane)
    }

    async fn try_login(store: &MemStore, portal: &Portal, login_: &str, password: &str, client: &str) -> Result<LoggedIn, AppError> {
        let body = LoginBody { login: login_.into(), password: password.into() };
        login(store, &fakes::config(), portal.id, body, client, chrono::Utc::now()).await
    }

    fn status<T>(r: &Result<T, AppError>) -> u16 {
        r.as_ref().err().map_or(200, crate::http::status_of)
    }

    #[tokio::test]
    async fn a_sign_in_and_a_refused_one_are_events_of_the_developer_and_an_unknown_login_names_nobody() {
        let (store, portal, jane) = with_jane(PortalSettings::default());
        try_login(&store, &portal, "jane@example.com", PASSWORD, "10.0.0.1").await.unwrap();
        try_login(&store, &portal, "jane", "not the password", "10.0.0.1").await.err().unwrap();
        try_login(&store, &portal, "nobody@example.com", "not the password", "10.0.0.1").await.err().unwrap();
        let events: Vec<(EventType, Option<Uuid>, String)> =
            store.events().into_iter().map(|e| (e.event_type, e.developer_id, e.actor.0)).collect();
        assert_eq!(
            events,
            [
                (EventType::LoggedIn, Some(jane.id), format!("developer:{}", jane.id)),
                (EventType::LoginFailed, Some(jane.id), "anonymous".to_string()),
                (EventType::LoginFailed, None, "anonymous".to_string()),
            ]
        );
        assert!(store.events().iter().all(|e| e.developer.email.as_deref() != Some("nobody@example.com")), "nothing typed is kept");
    }

    #[tokio::test]
    async fn parallel_wrong_passwords_cannot_pass_the_failed_sign_in_limit() {
        let (store, portal, _) = with_jane(PortalSettings::default());
        let guesses: Vec<String> = (0..12).map(|i| format!("wrong password {i}")).collect();
        let attempts = guesses.iter().map(|g| try_login(&store, &portal, "jane", g, "10.0.0.1"));
        let statuses: Vec<u16> = futures::future::join_all(attempts).await.iter().map(status).collect();
        assert_eq!(statuses.iter().filter(|s| **s == 401).count(), throttle::MAX_FAILURES_PER_CLIENT as usize, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 12 - throttle::MAX_FAILURES_PER_CLIENT as usize);
        assert_eq!(status(&try_login(&store, &portal, "jane", PASSWORD, "10.0.0.1").await), 429, "held back until the window ends");
        assert_eq!(status(&try_login(&store, &portal, "jane", PASSWORD, "10.0.0.2").await), 200, "another client is not");
    }

    #[tokio::test]
    async fn an_account_named_by_email_or_by_username_has_one_failed_sign_in_limit() {
        let (store, portal, _) = with_jane(PortalSettings::default());
        for login_ in ["jane@example.com", "JANE@example.com", "jane", "Jane", "jane"] {
            assert_eq!(status(&try_login(&store, &portal, login_, "not the password", "10.0.0.1").await), 401);
        }
        assert_eq!(status(&try_login(&store, &portal, "jane@example.com", PASSWORD, "10.0.0.1").await), 429);
    }

    #[tokio::test]
    async fn unknown_logins_are_throttled_by_the_login_string() {
        let (store, portal, _) = with_jane(PortalSettings::default());
        for _ in 0..throttle::MAX_FAILURES_PER_CLIENT {
            assert_eq!(status(&try_login(&store, &portal, "nobody", "a guess", "10.0.0.1").await), 401);
        }
        let r = try_login(&store, &portal, "Nobody", "a guess", "10.0.0.1").await;
        assert!(matches!(r, Err(AppError::Limited { retry_after, .. }) if (1..=900).contains(&retry_after)));
    }

    #[tokio::test]
    async fn an_unknown_login_makes_the_same_calls_as_a_wrong_password_for_a_known_one() {
        let (store, portal, _) = with_jane(PortalSettings::default());
        store.take_calls();
        assert_eq!(status(&try_login(&store, &portal, "jane@example.com", "not the password", "10.0.0.1").await), 401);
        let known = store.take_calls();
        assert_eq!(status(&try_login(&store, &portal, "nobody@example.com", "not the password", "10.0.0.1").await), 401);
        let unknown = store.take_calls();
        // The failure's event names the developer it knows (the same one PutItem either way).
        let same = |calls: Vec<String>| -> Vec<String> {
            calls.into_iter().map(|c| c.replace("LoginFailed developer true", "LoginFailed developer false")).collect()
        };
        assert!(known.contains(&"put event LoginFailed developer true".to_string()), "{known:?}");
        assert_eq!(same(known.clone()), same(unknown));
        assert!(known.contains(&"get developer".to_string()), "the unknown path reads a (missing) developer too: {known:?}");
    }

    #[tokio::test]
    async fn an_unconfirmed_self_registered_developer_gets_the_wrong_password_answer_even_with_the_right_password() {
        let (store, portal, _) = with_jane(PortalSettings::default());
        let fresh = fakes::developer(&portal, Origin::Registered, Some("fresh@example.com"), None, DeveloperState::Pending, hash());
        store.add_developer(fresh);
        let right = try_login(&store, &portal, "fresh@example.com", PASSWORD, "10.0.0.1").await;
        let wrong = try_login(&store, &portal, "jane@example.com", "not the password", "10.0.0.1").await;
        match (right, wrong) {
            (Err(a @ AppError::Unauthenticated(_)), Err(b @ AppError::Unauthenticated(_))) => assert_eq!(a.to_string(), b.to_string()),
            _ => panic!("both must be the generic 401"),
        }
        // It counts like a wrong password.
        for _ in 1..throttle::MAX_FAILURES_PER_CLIENT {
            try_login(&store, &portal, "fresh@example.com", PASSWORD, "10.0.0.1").await.err().unwrap();
        }
        assert_eq!(status(&try_login(&store, &portal, "fresh@example.com", PASSWORD, "10.0.0.1").await), 429);
    }

    #[tokio::test]
    async fn with_require_verified_email_off_an_unconfirmed_developer_signs_in_or_hears_its_state() {
        let (store, portal, _) = with_jane(PortalSettings { require_verified_email: false, ..Default::default() });
        let pending = fakes::developer(&portal, Origin::Registered, Some("p@example.com"), None, DeveloperState::Pending, hash());
        let approved = fakes::developer(&portal, Origin::Registered, Some("a@example.com"), None, DeveloperState::Approved, hash());
        store.add_developer(pending);
        store.add_developer(approved);
        match try_login(&store, &portal, "p@example.com", PASSWORD, "10.0.0.1").await {
            Err(AppError::Forbidden(detail)) => assert!(detail.contains("pending"), "{detail}"),
            _ => panic!("the right password on a pending account is 403 naming the state"),
        }
        assert_eq!(status(&try_login(&store, &portal, "a@example.com", PASSWORD, "10.0.0.1").await), 200);
    }

    #[tokio::test]
    async fn invited_and_admin_created_developers_sign_in_without_confirming_an_address() {
        let (store, portal, _) = with_jane(PortalSettings::default());
        let invited = fakes::developer(&portal, Origin::Invited, Some("inv@example.com"), None, DeveloperState::Approved, hash());
        let otp = fakes::developer(&portal, Origin::Admin, Some("otp@example.com"), Some("otp"), DeveloperState::Approved, hash());
        let no_email = fakes::developer(&portal, Origin::Admin, None, Some("noemail"), DeveloperState::Approved, hash());
        // Written before the origin was kept: no approval request at creation means an admin made it.
        let mut legacy = fakes::developer(&portal, Origin::Admin, Some("old@example.com"), None, DeveloperState::Approved, hash());
        legacy.stored_origin = None;
        for d in [invited, otp, no_email, legacy] {
            store.add_developer(d);
        }
        for l in ["inv@example.com", "otp", "otp@example.com", "noemail", "old@example.com"] {
            assert_eq!(status(&try_login(&store, &portal, l, PASSWORD, "10.0.0.1").await), 200, "{l}");
        }
    }

    #[tokio::test]
    async fn a_success_gives_its_attempt_back_and_clears_the_clients_failures() {
        let (store, portal, jane) = with_jane(PortalSettings::default());
        for _ in 0..4 {
            try_login(&store, &portal, "jane", "not the password", "10.0.0.1").await.err().unwrap();
        }
        assert_eq!(status(&try_login(&store, &portal, "jane", PASSWORD, "10.0.0.1").await), 200);
        let key = throttle::account_counter(portal.id, throttle::Account::Developer(jane.id), "10.0.0.1", chrono::Utc::now()).key;
        assert_eq!(store.count(&key), 4, "the failures stay on the account, the success is not one");
        for _ in 0..4 {
            assert_eq!(status(&try_login(&store, &portal, "jane", "not the password", "10.0.0.1").await), 401, "the client starts afresh");
        }
    }

    #[tokio::test]
    async fn wrong_current_passwords_count_toward_the_failed_sign_in_limit() {
        let (store, portal, jane) = with_jane(PortalSettings::default());
        let session = try_login(&store, &portal, "jane", PASSWORD, "10.0.0.1").await.unwrap();
        let stored = store.sessions.lock().unwrap()[0].clone();
        for i in 0..throttle::MAX_FAILURES_PER_CLIENT {
            let dev = store.developers.lock().unwrap()[&jane.id].clone();
            let auth = Authenticated { developer: dev, session: stored.clone() };
            let body = PasswordChange { current_password: format!("guess {i}"), new_password: "a different strong passphrase".into() };
            let r = change_password(&store, auth, body, "10.0.0.1", chrono::Utc::now()).await;
            assert_eq!(status(&r), 400);
        }
        assert!(!session.token.is_empty());
        assert_eq!(status(&try_login(&store, &portal, "jane", PASSWORD, "10.0.0.1").await), 429);
    }

    #[tokio::test]
    async fn a_portals_lower_sign_in_limit_answers_429_and_a_refused_client_does_not_use_up_the_portal() {
        let settings =
            PortalSettings { rate_limits: RateLimitOverrides { login_per_client: Some(2), ..Default::default() }, ..Default::default() };
        let (store, portal, _) = with_jane(settings);
        for _ in 0..2 {
            assert_eq!(status(&try_login(&store, &portal, "jane", PASSWORD, "10.0.0.1").await), 200);
        }
        let r = try_login(&store, &portal, "jane", PASSWORD, "10.0.0.1").await;
        assert!(matches!(&r, Err(AppError::Limited { detail, .. }) if detail.contains("client")), "{:?}", r.err());
        let [_, per_portal] = fakes::config().rate_limits.gates(throttle::Action::Login, portal.id, "10.0.0.1", chrono::Utc::now());
        assert_eq!(store.count(&per_portal.counter.key), 2, "the refused attempt was given back to the portal");
        assert_eq!(status(&try_login(&store, &portal, "jane", PASSWORD, "10.0.0.2").await), 200, "other clients go on");
    }
}
