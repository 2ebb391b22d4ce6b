//! Webhook endpoint administration over the in-memory ports: the secret shown once, URL and
//! filter checks naming the field, portal isolation, changes, deletes and the rotation overlap.

use uuid::Uuid;

use crate::domain::webhooks::{UrlPolicy, ROTATION_OVERLAP_SECONDS};
use crate::domain::*;
use crate::error::AppError;
use crate::fakes::{self, MemStore};
use crate::store::AdminToken;
use crate::webhooks::{self as hooks, NewWebhook, WebhookPatch, MAX_WEBHOOKS_PER_PORTAL};

const DEPLOYED: UrlPolicy = UrlPolicy { allow_loopback_http: false };
const LOCAL: UrlPolicy = UrlPolicy { allow_loopback_http: true };

fn token(scope: &str) -> AdminToken {
    AdminToken {
        id: "tok".into(),
        name: "ops".into(),
        scope: scope.into(),
        token_hash: "h".into(),
        created_at: chrono::Utc::now(),
        expires_at: None,
    }
}

fn new(url: &str, events: &[&str]) -> NewWebhook {
    NewWebhook { url: url.into(), events: events.iter().map(|e| e.to_string()).collect(), description: None, enabled: None }
}

fn setup() -> (MemStore, Portal) {
    let store = MemStore::default();
    let portal = fakes::portal(PortalSettings::default());
    store.add_portal(portal.clone());
    (store, portal)
}

fn fields(e: AppError) -> Vec<String> {
    match e {
        AppError::Invalid(list) => list.iter().map(|f| f.field.clone()).collect(),
        other => panic!("expected 400, got {other:?}"),
    }
}

#[tokio::test]
async fn a_created_endpoint_has_a_whsec_secret_that_later_reads_never_show() {
    let (store, portal) = setup();
    let now = chrono::Utc::now();
    let w =
        hooks::create(&store, &token("*"), portal.id, DEPLOYED, new("https://hooks.example.com/in", &["developer.*"]), now).await.unwrap();
    assert!(w.secret.starts_with("whsec_") && w.enabled && w.events == ["developer.*"]);
    let read = hooks::get(&store, &token(&portal.id.to_string()), portal.id, w.id).await.unwrap();
    assert_eq!(read, w);
    let listed = hooks::list(&store, &token("*"), portal.id).await.unwrap();
    let json = serde_json::to_string(&listed.iter().map(|w| w.view()).collect::<Vec<_>>()).unwrap();
    assert!(json.contains("hooks.example.com") && !json.contains("whsec_"), "{json}");
}

#[tokio::test]
async fn ssrf_targets_and_bad_filters_are_refused_naming_the_field_and_nothing_is_written() {
    let (store, portal) = setup();
    let now = chrono::Utc::now();
    for url in ["http://169.254.169.254/", "http://10.0.0.1/", "https://127.0.0.1/", "http://hooks.example.com/", "ftp://x.example.com/"] {
        let e = hooks::create(&store, &token("*"), portal.id, DEPLOYED, new(url, &["developer.*"]), now).await.unwrap_err();
        assert_eq!(fields(e), ["url"], "{url}");
    }
    let e = hooks::create(&store, &token("*"), portal.id, DEPLOYED, new("https://hooks.example.com/", &["developer.nope"]), now)
        .await
        .unwrap_err();
    assert_eq!(fields(e), ["events"]);
    let e = hooks::create(&store, &token("*"), portal.id, LOCAL, new("http://10.0.0.1/", &[]), now).await.unwrap_err();
    assert_eq!(fields(e), ["url", "events"], "every bad field at once");
    assert!(store.webhooks.lock().unwrap().is_empty());
    hooks::create(&store, &token("*"), portal.id, LOCAL, new("http://127.0.0.1:8123/hook", &["developer.*"]), now).await.unwrap();
}

#[tokio::test]
async fn another_portals_token_or_an_unknown_portal_finds_no_endpoint() {
    let (store, portal) = setup();
    let now = chrono::Utc::now();
    let w =
        hooks::create(&store, &token("*"), portal.id, DEPLOYED, new("https://hooks.example.com/", &["invite.sent"]), now).await.unwrap();
    let other = token(&Uuid::new_v4().to_string());
    assert!(matches!(hooks::get(&store, &other, portal.id, w.id).await, Err(AppError::NotFound { .. })));
    assert!(matches!(hooks::list(&store, &other, portal.id).await, Err(AppError::NotFound { .. })));
    assert!(matches!(hooks::delete(&store, &other, portal.id, w.id).await, Err(AppError::NotFound { .. })));
    assert!(
        matches!(hooks::get(&store, &token("*"), Uuid::new_v4(), w.id).await, Err(AppError::NotFound { .. })),
        "the id under another portal"
    );
    let missing =
        hooks::create(&store, &token("*"), Uuid::new_v4(), DEPLOYED, new("https://hooks.example.com/", &["invite.sent"]), now).await;
    assert!(matches!(missing, Err(AppError::NotFound { .. })));
}

#[tokio::test]
async fn a_change_touches_only_the_fields_given_and_is_checked_like_a_create() {
    let (store, portal) = setup();
    let now = chrono::Utc::now();
    let mut body = new("https://hooks.example.com/", &["developer.*"]);
    body.description = Some("CRM".into());
    let w = hooks::create(&store, &token("*"), portal.id, DEPLOYED, body, now).await.unwrap();
    let patch = WebhookPatch { enabled: Some(false), events: Some(vec!["invite.*".into()]), ..Default::default() };
    let changed = hooks::update(&store, &token("*"), portal.id, w.id, DEPLOYED, patch, now).await.unwrap();
    assert_eq!(
        (changed.enabled, changed.events.clone(), changed.description.as_deref(), changed.version),
        (false, vec!["invite.*".to_string()], Some("CRM"), 2)
    );
    assert_eq!(changed.secret, w.secret, "a change keeps the secret");
    let bad = WebhookPatch { url: Some("https://[fd00:ec2::254]/".into()), ..Default::default() };
    assert_eq!(fields(hooks::update(&store, &token("*"), portal.id, w.id, DEPLOYED, bad, now).await.unwrap_err()), ["url"]);
    let clear = WebhookPatch { description: Some(String::new()), ..Default::default() };
    assert_eq!(hooks::update(&store, &token("*"), portal.id, w.id, DEPLOYED, clear, now).await.unwrap().description, None);
}

#[tokio::test]
async fn a_deleted_endpoint_is_gone_and_a_second_delete_finds_nothing() {
    let (store, portal) = setup();
    let now = chrono::Utc::now();
    let w =
        hooks::create(&store, &token("*"), portal.id, DEPLOYED, new("https://hooks.example.com/", &["developer.*"]), now).await.unwrap();
    hooks::delete(&store, &token("*"), portal.id, w.id).await.unwrap();
    assert!(matches!(hooks::get(&store, &token("*"), portal.id, w.id).await, Err(AppError::NotFound { .. })));
    assert!(matches!(hooks::delete(&store, &token("*"), portal.id, w.id).await, Err(AppError::NotFound { .. })));
}

#[tokio::test]
async fn a_rotation_returns_a_new_secret_and_the_old_one_signs_beside_it_for_24_hours() {
    let (store, portal) = setup();
    let now = chrono::Utc::now();
    let w =
        hooks::create(&store, &token("*"), portal.id, DEPLOYED, new("https://hooks.example.com/", &["developer.*"]), now).await.unwrap();
    let secret = hooks::rotate_secret(&store, &token("*"), portal.id, w.id, ROTATION_OVERLAP_SECONDS, now).await.unwrap();
    assert!(secret.starts_with("whsec_") && secret != w.secret);
    let stored = hooks::get(&store, &token("*"), portal.id, w.id).await.unwrap();
    assert_eq!(stored.signing_secrets(now), [secret.as_str(), w.secret.as_str()]);
    assert_eq!(stored.signing_secrets(now + chrono::Duration::seconds(ROTATION_OVERLAP_SECONDS)), [secret.as_str()]);
}

#[tokio::test]
async fn a_portal_has_a_bounded_number_of_endpoints() {
    let (store, portal) = setup();
    let now = chrono::Utc::now();
    for _ in 0..MAX_WEBHOOKS_PER_PORTAL {
        hooks::create(&store, &token("*"), portal.id, DEPLOYED, new("https://hooks.example.com/", &["developer.*"]), now).await.unwrap();
    }
    let over = hooks::create(&store, &token("*"), portal.id, DEPLOYED, new("https://hooks.example.com/", &["developer.*"]), now).await;
    assert!(matches!(over, Err(AppError::Conflict(_))));
}
