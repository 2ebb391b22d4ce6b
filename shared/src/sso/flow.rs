//! Single sign-on, the sign-in (issue 17): the start (the authorization request, its state,
//! nonce and PKCE verifier kept in one short-lived item bound to the browser by a cookie) and
//! the callback (the item deleted on use, the code exchanged and the ID token validated by the
//! OIDC adapter, the developer found by its (issuer, subject) marker, linked or created under
//! the portal's rules, its mapped teams updated, and a session as after login).

use uuid::Uuid;

use crate::config::Config;
use crate::crypto::{constant_time_eq, nonce, sha256_hex};
use crate::domain::idp::{self, linking, map_claims, team_changes, Linking, Refusal, SsoFlow, SsoIdentity, FLOW_TTL_SECONDS};
use crate::domain::*;
use crate::error::AppError;
use crate::sessions::{open_session, LoggedIn};
use crate::store::*;

use super::secret_context;

/// Where the browser goes, and the value of the cookie that binds the sign-in to it.
pub struct Started {
    pub location: String,
    pub cookie: String,
}

/// A signed-in developer: the session (as login's) and where to send the browser.
pub struct SignedIn {
    pub session: LoggedIn,
    pub return_to: String,
}

fn refused(r: Refusal) -> AppError {
    AppError::Unauthenticated(r.to_string())
}

/// An enabled provider of the portal (a disabled or unknown one is a 404).
async fn enabled_idp<S: IdpStore>(store: &S, portal_id: Uuid, idp_id: Uuid) -> Result<IdentityProvider, AppError> {
    store.get_idp(portal_id, idp_id).await?.filter(|i| i.enabled).ok_or(AppError::not_found("identity provider"))
}

/// Starts a sign-in: one read (the provider), discovery when not cached, one write (the flow).
#[tracing::instrument(skip_all, fields(portal_id = %portal_id, idp_id = %idp_id))]
pub async fn start<S: IdpStore + SsoStore, O: OidcClient>(
    store: &S,
    oidc: &O,
    portal_id: Uuid,
    idp_id: Uuid,
    return_to: Option<&str>,
    callback_url: &str,
    now: Timestamp,
) -> Result<Started, AppError> {
    let return_to = idp::return_to(portal_id, return_to).map_err(|m| AppError::field("return_to", m))?;
    let provider = enabled_idp(store, portal_id, idp_id).await?;
    let request = oidc.start(&provider, callback_url).await?;
    let cookie = format!("{}{}", nonce(), nonce());
    let flow = SsoFlow {
        binding_hash: sha256_hex(cookie.as_bytes()),
        portal_id,
        idp_id,
        state: request.state,
        nonce: request.nonce,
        verifier: request.verifier,
        return_to,
        expires_at: now + chrono::Duration::seconds(FLOW_TTL_SECONDS),
    };
    store.put_flow(&flow).await?;
    Ok(Started { location: request.url, cookie })
}

/// What the provider sent back to the callback.
pub struct Callback<'a> {
    pub cookie: Option<&'a str>,
    pub state: Option<&'a str>,
    pub code: Option<&'a str>,
    pub error: Option<&'a str>,
}

/// Finishes a sign-in. Any refusal (no or another browser's flow, a wrong state, the
/// provider's error, a refused code or ID token) answers 401 with its sentence and writes
/// nothing but the flow's deletion.
#[allow(clippy::too_many_arguments)]
#[tracing::instrument(skip_all, fields(portal_id = %portal_id, idp_id = %idp_id))]
pub async fn callback<S, K, O>(
    store: &S,
    sealer: &K,
    oidc: &O,
    config: &Config,
    portal_id: Uuid,
    idp_id: Uuid,
    cb: Callback<'_>,
    callback_url: &str,
    now: Timestamp,
) -> Result<SignedIn, AppError>
where
    S: IdpStore + SsoStore + PortalStore + DeveloperStore + SessionStore + TeamStore + EventLog,
    K: SecretSealer,
    O: OidcClient,
{
    let cookie = cb.cookie.filter(|c| !c.is_empty()).ok_or(refused(Refusal::NoFlow))?;
    let flow = store.take_flow(&sha256_hex(cookie.as_bytes())).await?;
    let flow = flow.filter(|f| f.portal_id == portal_id && f.idp_id == idp_id && f.expires_at > now).ok_or(refused(Refusal::NoFlow))?;
    if !cb.state.is_some_and(|s| constant_time_eq(s, &flow.state)) {
        return Err(refused(Refusal::State));
    }
    if let Some(e) = cb.error {
        return Err(refused(Refusal::Provider(e.chars().take(100).collect())));
    }
    let code = cb.code.filter(|c| !c.is_empty()).ok_or(refused(Refusal::Provider("no authorization code".into())))?;
    let provider = enabled_idp(store, portal_id, idp_id).await?;
    let secret = sealer.open(&provider.client_secret_sealed, &secret_context(portal_id, idp_id)).await?;
    let claims = oidc.finish(&provider, secret, callback_url, code, &flow.verifier, &flow.nonce).await?.map_err(refused)?;
    let identity = map_claims(&claims, &provider.claim_mappings).map_err(refused)?;
    let (dev, portal) = account(store, &provider, &identity, now).await?;
    let dev = sync_teams(store, &provider, &identity, dev, now).await?;
    let session = open_session(store, config, &portal.settings, dev, now).await?;
    Ok(SignedIn { session, return_to: flow.return_to })
}

/// The developer the identity belongs to: by its (issuer, subject) marker; else the builtin
/// account holding the address, linked only on a provider-verified address; else a new one.
/// With the portal, read beside the marker (its rules make the new account's state, its
/// retention the sign-in event's).
async fn account<S>(store: &S, provider: &IdentityProvider, id: &SsoIdentity, now: Timestamp) -> Result<(Developer, Portal), AppError>
where
    S: SsoStore + PortalStore + DeveloperStore + SessionStore,
{
    let portal_id = provider.portal_id;
    let (marked, portal) = tokio::join!(store.find_subject(portal_id, &provider.issuer_url, &id.subject), store.get_portal(portal_id));
    let portal = portal?.ok_or(AppError::not_found("portal"))?;
    let mut stale = None;
    if let Some(dev_id) = marked? {
        match store.get_developer(dev_id).await? {
            Some(d) if d.portal_id == portal_id => return Ok((d, portal)),
            _ => stale = Some(dev_id),
        }
    }
    let email = id.email.as_deref().and_then(|e| Email::parse(e).ok());
    let holder = match &email {
        Some(e) => match store.find_login(portal_id, e.normalized(), true).await? {
            Some(h) => store.get_developer(h).await?.filter(|d| d.portal_id == portal_id),
            None => None,
        },
        None => None,
    };
    let provider_name = holder.as_ref().map(|h| if h.provider == Provider::Sso { "sso" } else { "builtin" });
    match linking(provider_name, id.email_verified) {
        Linking::Link => {
            let holder = holder.expect("a holder links");
            store
                .link_subject(portal_id, &provider.issuer_url, &id.subject, holder.id, stale)
                .await
                .on_conflict(|| AppError::Conflict("another sign-in linked this identity meanwhile; sign in again".into()))?;
            Ok((holder, portal))
        }
        Linking::Unverified => Err(AppError::Conflict(
            "an account with this address exists in this portal, and the identity provider does not assert the address verified, so the sign-in cannot be linked to it".into(),
        )),
        Linking::HeldBySso => Err(AppError::Conflict("this address belongs to another single sign-on account of this portal".into())),
        Linking::Create => Ok((create(store, provider, &portal, id, email.as_ref(), stale, now).await?, portal)),
    }
}

/// The state of a new SSO developer: approved when the provider's `auto_approve` is on or the
/// portal's rules approve its (provider-verified) address now, else pending.
pub fn initial_state(provider: &IdentityProvider, settings: &PortalSettings, email: Option<&Email>, verified: bool) -> DeveloperState {
    if provider.auto_approve || email.is_some_and(|e| auto_approval_now(settings, e, verified).is_some()) {
        DeveloperState::Approved
    } else {
        DeveloperState::Pending
    }
}

async fn create<S: SsoStore>(
    store: &S,
    provider: &IdentityProvider,
    portal: &Portal,
    id: &SsoIdentity,
    email: Option<&Email>,
    stale: Option<Uuid>,
    now: Timestamp,
) -> Result<Developer, AppError> {
    let state = initial_state(provider, &portal.settings, email, id.email_verified);
    let fallback = email.map(|e| e.as_str().split('@').next().unwrap_or_default().to_string()).unwrap_or_else(|| "SSO developer".into());
    let name = id.name.as_deref().and_then(|n| PersonName::parse(n).ok()).or_else(|| PersonName::parse(&fallback).ok());
    let name = name.map_or_else(|| PersonName::parse("SSO developer"), Ok).map_err(AppError::internal)?;
    // A builtin record's shape, then what single sign-on changes: no password, the provider's
    // verification flag.
    let mut dev = Developer::new_builtin(Origin::Registered, portal.id, email, None, &name, state, String::new(), now);
    dev.provider = Provider::Sso;
    dev.password_hash = None;
    dev.email_verified = id.email_verified;
    let approval = (state == DeveloperState::Pending).then(|| {
        dev.approval_id = Some(Uuid::now_v7());
        dev.approval_ids = dev.approval_id.into_iter().collect();
        Approval::for_registration(&dev, now)
    });
    let mut event = LifecycleEvent::new(EventType::Created, &dev, Actor::system("sso"), now);
    event.to_state = Some(state);
    event.reason = Some(format!("provider=sso idp={}", provider.id));
    let new = NewDeveloper { developer: dev, approval, accepted_invite: None, verification: None, event };
    store.register_sso(&new, &provider.issuer_url, &id.subject, stale).await.map_err(|e| {
        crate::registration::refusal(
            e,
            || AppError::Conflict("an account with this address was created meanwhile; sign in again".into()),
            || AppError::internal("no invite here"),
            || AppError::Conflict("another sign-in created this account meanwhile; sign in again".into()),
        )
    })?;
    Ok(new.developer)
}

/// The developer's teams follow the provider's mapped groups: joined and left in one
/// transaction with a `team.member_added` / `team.member_removed` event each (`reason: "sso"`).
async fn sync_teams<S: SsoStore + TeamStore>(
    store: &S,
    provider: &IdentityProvider,
    id: &SsoIdentity,
    dev: Developer,
    now: Timestamp,
) -> Result<Developer, AppError> {
    let (join, leave) = team_changes(&dev.teams, &provider.team_mappings, &id.groups);
    if join.is_empty() && leave.is_empty() {
        return Ok(dev);
    }
    let teams = futures::future::try_join_all(join.iter().map(|t| store.get_team(*t))).await?;
    let join: Vec<Team> = teams.into_iter().flatten().filter(|t| t.portal_id == dev.portal_id).collect();
    let mut after = dev.clone();
    after.teams.extend(join.iter().map(|t| t.id.to_string()));
    after.teams.retain(|t| !leave.iter().any(|l| l.to_string() == *t));
    after.bump(now);
    let mut events = Vec::new();
    let joined = join.iter().map(|t| (EventType::TeamMemberAdded, t.id, Some(t.name.clone())));
    for (kind, team_id, name) in joined.chain(leave.iter().map(|t| (EventType::TeamMemberRemoved, *t, None))) {
        let subject = EventSubject { team_id: Some(team_id), name, ..EventSubject::default() };
        let mut e = LifecycleEvent::about(kind, &after, Actor::system("sso"), subject, now);
        e.reason = Some("sso".into());
        events.push(e);
    }
    store
        .change_memberships(&dev, &after, &join, &leave, &events)
        .await
        .on_conflict(|| AppError::Conflict("the account changed during the sign-in; sign in again".into()))?;
    Ok(after)
}
