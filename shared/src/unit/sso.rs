//! Identity providers (single sign-on) over the in-memory ports: validation, the write-only
//! sealed secret, team mappings naming the portal's teams, portal isolation.

use serde_json::json;
use uuid::Uuid;

use crate::domain::*;
use crate::error::AppError;
use crate::fakes::{portal, FakeSealer, MemStore};
use crate::sso::{self, secret_context, IdpInput, IssuerPolicy};
use crate::store::{AdminToken, SecretSealer};

fn token(scope: &str) -> AdminToken {
    AdminToken {
        id: "tok".into(),
        name: "t".into(),
        scope: scope.into(),
        token_hash: String::new(),
        created_at: chrono::Utc::now(),
        expires_at: None,
    }
}

fn input(v: serde_json::Value) -> IdpInput {
    serde_json::from_value(v).unwrap()
}

fn body(issuer: &str, teams: &[(&str, Uuid)]) -> IdpInput {
    let maps: Vec<_> = teams.iter().map(|(g, t)| json!({"group": g, "team_id": t})).collect();
    input(json!({
        "type": "oidc", "display_name": "Acme SSO",
        "config": {"issuer_url": issuer, "client_id": "gh", "client_secret": "s3cret-value", "scopes": ["email", "groups"]},
        "auto_approve": true, "team_mappings": maps,
    }))
}

fn setup() -> (MemStore, Portal, Team) {
    let store = MemStore::default();
    let p = portal(PortalSettings::default());
    store.add_portal(p.clone());
    let team = Team { id: Uuid::now_v7(), portal_id: p.id, name: "Partners".into(), description: None, created_at: chrono::Utc::now() };
    crate::fakes::lock_insert_team(&store, team.clone());
    (store, p, team)
}

fn fields(e: AppError) -> Vec<String> {
    match e {
        AppError::Invalid(errs) => errs.into_iter().map(|e| e.field).collect(),
        other => panic!("not a validation error: {other:?}"),
    }
}

#[tokio::test]
async fn a_created_provider_keeps_its_secret_sealed_to_itself_and_never_shows_it() {
    let (store, p, team) = setup();
    let now = chrono::Utc::now();
    let idp = sso::create_idp(
        &store,
        &FakeSealer,
        &token("*"),
        p.id,
        body("https://login.acme.com", &[("partners", team.id)]),
        IssuerPolicy::default(),
        now,
    )
    .await
    .unwrap();
    assert_eq!(idp.scopes, ["openid", "email", "groups"]);
    assert!(!idp.client_secret_sealed.contains("s3cret-value"));
    assert_eq!(FakeSealer.open(&idp.client_secret_sealed, &secret_context(p.id, idp.id)).await.unwrap(), "s3cret-value");
    assert!(FakeSealer.open(&idp.client_secret_sealed, &secret_context(p.id, Uuid::now_v7())).await.is_err());
    let shown = serde_json::to_string(&idp.view()).unwrap();
    assert!(!shown.contains("secret"), "{shown}");
    assert_eq!(serde_json::to_value(idp.view()).unwrap()["type"], "oidc");
}

#[tokio::test]
async fn a_provider_is_refused_naming_each_bad_field_and_nothing_is_written() {
    let (store, p, _) = setup();
    let now = chrono::Utc::now();
    let e = sso::create_idp(
        &store,
        &FakeSealer,
        &token("*"),
        p.id,
        input(json!({"type": "saml", "config": {"issuer_url": "http://login.acme.com"}})),
        IssuerPolicy::default(),
        now,
    )
    .await
    .unwrap_err();
    assert_eq!(fields(e), ["type", "display_name", "config.client_id", "config.client_secret", "config.issuer_url"]);
    let e = sso::create_idp(
        &store,
        &FakeSealer,
        &token("*"),
        p.id,
        body("https://login.acme.com", &[("g", Uuid::now_v7())]),
        IssuerPolicy::default(),
        now,
    )
    .await
    .unwrap_err();
    assert_eq!(fields(e), ["team_mappings[0].team_id"], "a team that does not exist");
    assert!(store.idps.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_loopback_http_issuer_is_accepted_only_where_the_deployment_allows_it() {
    let (store, p, _) = setup();
    let now = chrono::Utc::now();
    let local = IssuerPolicy { allow_loopback_http: true };
    assert!(sso::create_idp(&store, &FakeSealer, &token("*"), p.id, body("http://127.0.0.1:9400", &[]), IssuerPolicy::default(), now)
        .await
        .is_err());
    assert!(sso::create_idp(&store, &FakeSealer, &token("*"), p.id, body("http://127.0.0.1:9400", &[]), local, now).await.is_ok());
}

#[tokio::test]
async fn another_portals_token_sees_no_provider_and_a_team_of_another_portal_cannot_be_mapped() {
    let (store, p, _) = setup();
    let (other, other_team) = {
        let o = portal(PortalSettings::default());
        store.add_portal(o.clone());
        let t = Team { id: Uuid::now_v7(), portal_id: o.id, name: "X".into(), description: None, created_at: chrono::Utc::now() };
        crate::fakes::lock_insert_team(&store, t.clone());
        (o, t)
    };
    let now = chrono::Utc::now();
    let e = sso::create_idp(
        &store,
        &FakeSealer,
        &token("*"),
        p.id,
        body("https://a.example", &[("g", other_team.id)]),
        IssuerPolicy::default(),
        now,
    )
    .await
    .unwrap_err();
    assert_eq!(fields(e), ["team_mappings[0].team_id"]);
    let idp = sso::create_idp(&store, &FakeSealer, &token("*"), p.id, body("https://a.example", &[]), IssuerPolicy::default(), now)
        .await
        .unwrap();
    let e = sso::idp_for(&store, &token(&other.id.to_string()), p.id, idp.id).await.unwrap_err();
    assert!(matches!(e, AppError::NotFound { what: "identity provider" }));
    assert!(sso::idp_for(&store, &token("*"), other.id, idp.id).await.is_err(), "not under another portal's path");
}

#[tokio::test]
async fn a_change_keeps_what_it_does_not_name_and_reseals_a_new_secret() {
    let (store, p, team) = setup();
    let now = chrono::Utc::now();
    let idp = sso::create_idp(
        &store,
        &FakeSealer,
        &token("*"),
        p.id,
        body("https://a.example", &[("partners", team.id)]),
        IssuerPolicy::default(),
        now,
    )
    .await
    .unwrap();
    let changed = sso::update_idp(
        &store,
        &FakeSealer,
        &token("*"),
        p.id,
        idp.id,
        input(json!({"enabled": false, "display_name": "New"})),
        IssuerPolicy::default(),
        now,
    )
    .await
    .unwrap();
    assert_eq!((changed.enabled, changed.display_name.as_str(), changed.version), (false, "New", 2));
    assert_eq!(
        (&changed.client_secret_sealed, &changed.team_mappings, &changed.scopes),
        (&idp.client_secret_sealed, &idp.team_mappings, &idp.scopes)
    );
    let resealed = sso::update_idp(
        &store,
        &FakeSealer,
        &token("*"),
        p.id,
        idp.id,
        input(json!({"config": {"client_secret": "other"}, "team_mappings": []})),
        IssuerPolicy::default(),
        now,
    )
    .await
    .unwrap();
    assert_eq!(FakeSealer.open(&resealed.client_secret_sealed, &secret_context(p.id, idp.id)).await.unwrap(), "other");
    assert!(resealed.team_mappings.is_empty());
    sso::delete_idp(&store, &token("*"), p.id, idp.id).await.unwrap();
    assert!(sso::list_idps(&store, &token("*"), p.id).await.unwrap().is_empty());
}

// ---- the sign-in over the in-memory ports

use crate::domain::idp::Refusal;
use crate::fakes::FakeOidc;
use crate::sso::flow::{self, Callback};

const CB: &str = "http://127.0.0.1:9000/api/portals/p/sso/i/callback";

async fn provider(store: &MemStore, p: &Portal, auto_approve: bool, teams: &[(&str, Uuid)]) -> IdentityProvider {
    let mut b = body("https://login.acme.com", teams);
    b.auto_approve = Some(auto_approve);
    sso::create_idp(store, &FakeSealer, &token("*"), p.id, b, IssuerPolicy::default(), chrono::Utc::now()).await.unwrap()
}

/// Starts a sign-in; (cookie, state).
async fn started(store: &MemStore, oidc: &FakeOidc, p: &Portal, idp: &IdentityProvider) -> (String, String) {
    let s = flow::start(store, oidc, p.id, idp.id, None, CB, chrono::Utc::now()).await.unwrap();
    let state = s.location.split("state=").nth(1).unwrap().split('&').next().unwrap().to_string();
    (s.cookie, state)
}

async fn finish(
    store: &MemStore,
    oidc: &FakeOidc,
    p: &Portal,
    idp: &IdentityProvider,
    cookie: &str,
    state: &str,
) -> Result<flow::SignedIn, AppError> {
    let cb = Callback { cookie: Some(cookie), state: Some(state), code: Some("code"), error: None };
    flow::callback(store, &FakeSealer, oidc, &crate::fakes::config(), p.id, idp.id, cb, CB, chrono::Utc::now()).await
}

fn alice(verified: bool, groups: &[&str]) -> serde_json::Value {
    json!({"sub": "alice-sub", "email": "alice@partner.example", "email_verified": verified, "name": "Alice Example", "groups": groups})
}

#[tokio::test]
async fn a_start_refuses_a_return_to_outside_the_portal_and_a_disabled_provider() {
    let (store, p, _) = setup();
    let idp = provider(&store, &p, false, &[]).await;
    let e =
        flow::start(&store, &FakeOidc::default(), p.id, idp.id, Some("https://evil.example/"), CB, chrono::Utc::now()).await.err().unwrap();
    assert_eq!(fields(e), ["return_to"]);
    sso::update_idp(
        &store,
        &FakeSealer,
        &token("*"),
        p.id,
        idp.id,
        input(json!({"enabled": false})),
        IssuerPolicy::default(),
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let e = flow::start(&store, &FakeOidc::default(), p.id, idp.id, None, CB, chrono::Utc::now()).await.err().unwrap();
    assert!(matches!(e, AppError::NotFound { .. }));
    assert!(store.sso_flows.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_wrong_state_uses_up_the_sign_in_and_a_replay_finds_nothing_and_no_account_is_written() {
    let (store, p, _) = setup();
    let (oidc, idp) = (FakeOidc::default(), provider(&store, &p, true, &[]).await);
    oidc.answers(alice(true, &[]));
    let (cookie, state) = started(&store, &oidc, &p, &idp).await;
    let e = finish(&store, &oidc, &p, &idp, &cookie, "not-the-state").await.err().unwrap();
    assert!(matches!(&e, AppError::Unauthenticated(m) if *m == Refusal::State.to_string()), "{e:?}");
    let e = finish(&store, &oidc, &p, &idp, &cookie, &state).await.err().unwrap();
    assert!(matches!(&e, AppError::Unauthenticated(m) if *m == Refusal::NoFlow.to_string()), "{e:?}");
    let (cookie, state) = started(&store, &oidc, &p, &idp).await;
    oidc.refuses(Refusal::Nonce);
    let e = finish(&store, &oidc, &p, &idp, &cookie, &state).await.err().unwrap();
    assert!(matches!(&e, AppError::Unauthenticated(m) if m.contains("nonce")), "{e:?}");
    assert!(store.developers.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_first_sign_in_is_pending_with_an_approval_and_auto_approve_signs_in_with_the_mapped_teams() {
    let (store, p, team) = setup();
    let oidc = FakeOidc::default();
    oidc.answers(alice(true, &["partners"]));
    let idp = provider(&store, &p, false, &[("partners", team.id)]).await;
    let (cookie, state) = started(&store, &oidc, &p, &idp).await;
    let e = finish(&store, &oidc, &p, &idp, &cookie, &state).await.err().unwrap();
    assert!(matches!(&e, AppError::Forbidden(m) if m.contains("pending")), "{e:?}");
    let devs: Vec<Developer> = store.developers.lock().unwrap().values().cloned().collect();
    assert_eq!(devs.len(), 1);
    assert_eq!((devs[0].provider, devs[0].state, devs[0].email_verified), (Provider::Sso, DeveloperState::Pending, true));
    assert!(devs[0].approval_id.is_some() && store.approvals.lock().unwrap().len() == 1);
    assert_eq!(devs[0].teams, [team.id.to_string()], "teams follow the groups even while pending");

    let (store, p, team) = setup();
    let idp = provider(&store, &p, true, &[("partners", team.id)]).await;
    let (cookie, state) = started(&store, &oidc, &p, &idp).await;
    let signed = finish(&store, &oidc, &p, &idp, &cookie, &state).await.unwrap();
    assert_eq!(signed.return_to, format!("/portal/{}/account", p.id));
    assert_eq!((signed.session.developer.state, &signed.session.developer.teams), (DeveloperState::Approved, &vec![team.id.to_string()]));
    assert!(signed.session.token.starts_with(crate::tokens::SESSION_TOKEN_PREFIX));
    let kinds: Vec<EventType> = store.events.lock().unwrap().iter().map(|e| e.event_type).collect();
    assert_eq!(kinds, [EventType::Created, EventType::TeamMemberAdded, EventType::LoggedIn]);

    oidc.answers(alice(true, &[]));
    let (cookie, state) = started(&store, &oidc, &p, &idp).await;
    let again = finish(&store, &oidc, &p, &idp, &cookie, &state).await.unwrap();
    assert_eq!(again.session.developer.id, signed.session.developer.id);
    assert!(again.session.developer.teams.is_empty(), "the group is gone, so is the team");
}

#[tokio::test]
async fn a_builtin_account_is_linked_on_a_verified_address_only() {
    let (store, p, _) = setup();
    let builtin = crate::fakes::developer(&p, Origin::Registered, Some("alice@partner.example"), None, DeveloperState::Approved, "h");
    store.add_developer(builtin.clone());
    let (oidc, idp) = (FakeOidc::default(), provider(&store, &p, true, &[]).await);
    oidc.answers(alice(false, &[]));
    let (cookie, state) = started(&store, &oidc, &p, &idp).await;
    let e = finish(&store, &oidc, &p, &idp, &cookie, &state).await.err().unwrap();
    assert!(matches!(&e, AppError::Conflict(m) if m.contains("verified")), "{e:?}");
    oidc.answers(alice(true, &[]));
    let (cookie, state) = started(&store, &oidc, &p, &idp).await;
    assert_eq!(finish(&store, &oidc, &p, &idp, &cookie, &state).await.unwrap().session.developer.id, builtin.id);
    assert_eq!(store.developers.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn an_sso_sign_in_keeps_its_event_as_the_portal_keeps_events_and_stamps_activity_at_most_every_five_minutes() {
    let (store, mut p, _) = setup();
    p.settings.audit_retention_days = Some(400);
    store.add_portal(p.clone());
    let oidc = FakeOidc::default();
    oidc.answers(alice(true, &[]));
    let idp = provider(&store, &p, true, &[]).await;
    for _ in 0..2 {
        let (cookie, state) = started(&store, &oidc, &p, &idp).await;
        finish(&store, &oidc, &p, &idp, &cookie, &state).await.unwrap();
    }
    let events = store.events.lock().unwrap().clone();
    let logins: Vec<_> = events.iter().filter(|e| e.event_type == EventType::LoggedIn).collect();
    assert_eq!(logins.len(), 2);
    assert!(logins.iter().all(|e| e.retention_days == Some(400) && e.reason.as_deref() == Some("sso")), "{logins:?}");
    let touches = store.take_calls().iter().filter(|c| *c == "touch developer").count();
    assert_eq!(touches, 1, "the second sign-in, seconds later, leaves the stamp as it is");
}
