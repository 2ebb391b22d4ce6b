//! Registration, invites, sessions and recovery over the in-memory ports.

use crate::clock::Clock;
use crate::consumer::{Consumer, Outcome};
use crate::domain::*;
use crate::error::AppError;
use crate::fakes::{self, MemMailer, MemStore};
use crate::invites::{self, AcceptInvite, LinkInvites};
use crate::recovery::{self, ResetConfirm, ResetRequest};
use crate::registration::{register, RegisterBody};
use crate::sessions::{authenticate, login, LoginBody};
use crate::store::AdminToken;

const PASSWORD: &str = "correct horse battery staple";

fn admin(now: Timestamp) -> AdminToken {
    AdminToken { id: "tok".into(), name: "t".into(), scope: "*".into(), token_hash: String::new(), created_at: now, expires_at: None }
}

fn body(email: &str, username: Option<&str>) -> RegisterBody {
    RegisterBody { email: email.into(), password: PASSWORD.into(), name: "Ada Lovelace".into(), username: username.map(Into::into) }
}

fn store_with_portal(settings: PortalSettings) -> (MemStore, Portal) {
    let store = MemStore::default();
    let portal = fakes::portal(settings);
    store.add_portal(portal.clone());
    (store, portal)
}

#[tokio::test]
async fn a_registration_writes_a_pending_developer_its_request_its_link_and_its_event() {
    let (store, portal) = store_with_portal(PortalSettings::default());
    let now = chrono::Utc::now();
    let done = register(&store, &fakes::config(), portal.id, body("ada@example.com", Some("ada")), "10.0.0.1", now).await.unwrap();
    let dev = store.developer(done.id).expect("stored");
    assert_eq!(dev.state, DeveloperState::Pending);
    assert_eq!(store.approvals.lock().unwrap()[&dev.approval_id.unwrap()].status, ApprovalStatus::Pending);
    assert!(store.links.lock().unwrap().contains_key(&(dev.id, LinkPurpose::Verify)));
    let events = store.events();
    assert_eq!((events.len(), events[0].event_type), (1, EventType::Registered));
    assert!(events[0].token_nonce.is_some(), "the consumer rebuilds the verification link from it");
}

#[tokio::test]
async fn a_known_address_gets_the_same_answer_and_one_attempt_event_per_hour() {
    let (store, portal) = store_with_portal(PortalSettings::default());
    let now = chrono::Utc::now();
    let config = fakes::config();
    let first = register(&store, &config, portal.id, body("ada@example.com", None), "10.0.0.1", now).await.unwrap();
    let again = register(&store, &config, portal.id, body("ADA@example.com", None), "10.0.0.2", now).await.unwrap();
    let third = register(&store, &config, portal.id, body("ada@example.com", None), "10.0.0.3", now).await.unwrap();
    assert_ne!(again.id, first.id);
    assert!(store.developer(again.id).is_none(), "the id refers to nothing");
    let attempts: Vec<_> = store.events().into_iter().filter(|e| e.event_type == EventType::RegistrationAttempted).collect();
    assert_eq!(attempts.len(), 1, "deduplicated per address and hour");
    assert_eq!(attempts[0].developer_id, Some(first.id));
    assert_ne!(third.id, again.id);
}

#[tokio::test]
async fn a_taken_username_and_a_closed_portal_are_refused() {
    let (store, portal) = store_with_portal(PortalSettings::default());
    let now = chrono::Utc::now();
    let config = fakes::config();
    register(&store, &config, portal.id, body("a@example.com", Some("ada")), "c", now).await.unwrap();
    match register(&store, &config, portal.id, body("b@example.com", Some("Ada")), "c", now).await {
        Err(AppError::Conflict(m)) => assert_eq!(m, "this username is taken; choose another"),
        other => panic!("{:?}", other.err()),
    }
    let (closed, portal) = store_with_portal(PortalSettings { self_registration: false, ..Default::default() });
    assert!(matches!(register(&closed, &config, portal.id, body("a@example.com", None), "c", now).await, Err(AppError::Forbidden(_))));
    assert!(closed.developers.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_invite_is_accepted_once_and_a_second_invite_for_the_address_waits() {
    let (store, portal) = store_with_portal(PortalSettings::default());
    let now = chrono::Utc::now();
    let config = fakes::config();
    let emails = vec!["inv@example.com".to_string(), "INV@example.com".to_string()];
    let out = invites::invite_links(&store, &config, &admin(now), portal.id, LinkInvites { emails }, now).await.unwrap();
    assert_eq!((out[0]["status"].as_str(), out[1]["status"].as_str()), (Some("pending"), Some("duplicate")));
    let again =
        invites::invite_links(&store, &config, &admin(now), portal.id, LinkInvites { emails: vec!["inv@example.com".into()] }, now).await;
    assert_eq!(again.unwrap()[0]["status"], "already_invited");
    let invite = store.invites.lock().unwrap().values().next().cloned().unwrap();
    let token = crate::tokens::invite_token(&config, invite.id, &invite.nonce).token;
    let accept = || AcceptInvite { token: token.clone(), password: PASSWORD.into(), name: "Invited One".into(), username: None };
    let dev = invites::accept_invite(&store, portal.id, accept(), now).await.unwrap();
    assert_eq!((dev.state, dev.email_verified), (DeveloperState::Approved, true));
    match invites::accept_invite(&store, portal.id, accept(), now).await {
        Err(AppError::Gone(m)) => assert!(m.contains("was already used"), "{m}"),
        other => panic!("{:?}", other.err()),
    }
}

#[tokio::test]
async fn a_session_opens_with_the_password_and_ends_when_the_developer_is_revoked() {
    let (store, portal) = store_with_portal(PortalSettings::default());
    let now = chrono::Utc::now();
    let hash = crate::crypto::hash_password_blocking(PASSWORD).unwrap();
    let dev = fakes::developer(&portal, Origin::Invited, Some("s@example.com"), None, DeveloperState::Approved, &hash);
    store.add_developer(dev.clone());
    let body = LoginBody { login: "s@example.com".into(), password: PASSWORD.into() };
    let session = login(&store, &fakes::config(), portal.id, body, "10.0.0.1", now).await.unwrap();
    assert!(authenticate(&store, Some(session.token.clone()), portal.id, now).await.is_ok());
    let current = store.developer(dev.id).unwrap();
    crate::lifecycle::change_developer(
        &store,
        current,
        Some(DeveloperState::Revoked),
        None,
        &Actor::admin("t"),
        None,
        RejectAction::Keep,
        now,
    )
    .await
    .unwrap();
    assert!(matches!(authenticate(&store, Some(session.token), portal.id, now).await, Err(AppError::Unauthenticated(_))));
}

#[tokio::test]
async fn a_reset_link_from_the_consumer_sets_the_password_once() {
    let (store, portal) = store_with_portal(PortalSettings::default());
    let now = chrono::Utc::now();
    let dev = fakes::developer(&portal, Origin::Invited, Some("r@example.com"), None, DeveloperState::Approved, "old");
    store.add_developer(dev.clone());
    recovery::request_reset(&store, portal.id, ResetRequest { email: "R@example.com".into() }, now).await.unwrap();
    let event = store.events().pop().expect("the neutral request event");
    let c = Consumer::new(store, MemMailer::default(), fakes::config(), Clock::default());
    assert_eq!(
        c.handle_record(&MemStore::record_of(&event), &Default::default()).await.unwrap(),
        Outcome::Mailed(crate::mail::MailKind::Reset)
    );
    let mail = c.mailer.sent().pop().unwrap();
    let text = mail.content.text.clone();
    let token = text.split("token=").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    let confirm = || ResetConfirm { token: token.clone(), new_password: "a brand new passphrase here".into() };
    recovery::confirm_reset(&c.store, portal.id, confirm(), now).await.unwrap();
    let after = c.store.developer(dev.id).unwrap();
    assert_ne!(after.password_hash.as_deref(), Some("old"));
    assert_eq!(after.session_epoch, dev.session_epoch + 1, "every session ends");
    assert!(matches!(recovery::confirm_reset(&c.store, portal.id, confirm(), now).await, Err(AppError::Gone(_))), "single use");
}

#[test]
fn a_generated_one_time_password_is_24_symbols_of_the_unambiguous_alphabet_in_groups_of_four() {
    let a = invites::generate_temporary_password();
    let b = invites::generate_temporary_password();
    assert_ne!(a, b);
    let groups: Vec<&str> = a.split('-').collect();
    assert_eq!(groups.len(), 6, "{a}");
    for g in groups {
        assert_eq!(g.len(), 4, "{a}");
        assert!(g.chars().all(|c| c.is_ascii_alphanumeric() && !"0Oo1lI".contains(c)), "{a}");
    }
}

#[tokio::test]
async fn a_developer_created_with_a_generated_password_signs_in_with_it_and_must_change_it() {
    let (store, portal) = store_with_portal(PortalSettings::default());
    let now = chrono::Utc::now();
    let new = invites::TemporaryAccount { username: "otto", name: "Otto Password", email: Some("") };
    let (dev, password) = invites::invite_with_generated_password(&store, &admin(now), portal.id, new, now).await.unwrap();
    assert_eq!(dev.state, DeveloperState::Approved);
    assert!(dev.must_change_password);
    assert!(dev.temporary_password_expires_at.is_some());
    let body = LoginBody { login: "otto".into(), password: password.clone() };
    let signed_in = login(&store, &fakes::config(), portal.id, body, "198.51.100.7", now).await.expect("the generated password signs in");
    assert!(signed_in.developer.must_change_password);
    // Field errors are the chosen-password path's, without the password's.
    let bad = invites::TemporaryAccount { username: "", name: "", email: Some("not an address") };
    match invites::invite_with_generated_password(&store, &admin(now), portal.id, bad, now).await {
        Err(AppError::Invalid(errors)) => {
            let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
            assert_eq!(fields, ["username", "name", "email"]);
        }
        other => panic!("expected field errors, got {other:?}"),
    }
}
