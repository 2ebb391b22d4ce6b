//! The stream consumer over the in-memory ports: exactly-once mail, the lease wait, release on
//! failure, permanent failures recorded and skipped, and the auto-approval race.

use crate::approvals::decide_approval;
use crate::clock::Clock;
use crate::consumer::{ConsumeError, Consumer, Outcome};
use crate::domain::*;
use crate::fakes::{self, Marker, MemMailer, MemStore, Send};
use crate::mail::MailKind;
use crate::store::{AdminToken, MailClaim, MailLedger};

fn consumer(settings: PortalSettings, mailer: MemMailer) -> (Consumer<MemStore, MemMailer>, Portal) {
    let store = MemStore::default();
    let portal = fakes::portal(PortalSettings { admin_emails: vec!["admin@test.example".into()], ..settings });
    store.add_portal(portal.clone());
    (Consumer::new(store, mailer, fakes::config(), Clock::default()), portal)
}

/// A pending self-registered developer and its `developer.registered` event (no verification
/// link: only the access request or the auto-approval is owed).
fn registered(c: &Consumer<MemStore, MemMailer>, portal: &Portal) -> (Developer, LifecycleEvent) {
    let mut dev = fakes::developer(portal, Origin::Registered, Some("new@example.com"), None, DeveloperState::Pending, "h");
    dev.approval_id = Some(uuid::Uuid::now_v7());
    dev.approval_ids = dev.approval_id.into_iter().collect();
    c.store.approvals.lock().unwrap().insert(dev.approval_id.unwrap(), Approval::for_registration(&dev, dev.created_at));
    c.store.add_developer(dev.clone());
    let mut event = LifecycleEvent::new(EventType::Registered, &dev, Actor::anonymous(), dev.created_at);
    event.to_state = Some(DeveloperState::Pending);
    (dev, event)
}

async fn run(c: &Consumer<MemStore, MemMailer>, event: &LifecycleEvent) -> Result<Outcome, ConsumeError> {
    c.handle_record(&MemStore::record_of(event), &Default::default()).await
}

#[tokio::test]
async fn a_replayed_event_mails_once() {
    let (c, portal) = consumer(PortalSettings::default(), MemMailer::default());
    let (_, event) = registered(&c, &portal);
    assert_eq!(run(&c, &event).await.unwrap(), Outcome::Mailed(MailKind::AccessRequest));
    assert_eq!(run(&c, &event).await.unwrap(), Outcome::AlreadyMailed(MailKind::AccessRequest));
    let batch = c.handle_batch(&[MemStore::record_of(&event), MemStore::record_of(&event)]).await;
    assert!(batch.failures.is_empty());
    assert_eq!(c.mailer.sent().len(), 1, "exactly once");
    assert_eq!(c.mailer.sent()[0].to, ["admin@test.example"]);
}

#[tokio::test(start_paused = true)]
async fn a_mail_another_invocation_is_sending_is_waited_for_once_then_the_record_fails() {
    let (c, portal) = consumer(PortalSettings::default(), MemMailer::default());
    let (_, event) = registered(&c, &portal);
    let now = chrono::Utc::now();
    assert_eq!(c.store.claim_mail(event.id, "access_request", now, 3600).await.unwrap(), MailClaim::Acquired);
    let started = tokio::time::Instant::now();
    assert!(matches!(run(&c, &event).await, Err(ConsumeError::MailInFlight)));
    assert!(started.elapsed().as_secs() > crate::consumer::MAIL_LEASE_SECONDS as u64, "waited the lease out once");
    assert!(c.mailer.sent().is_empty());
}

#[tokio::test]
async fn a_lapsed_lease_is_taken_over_and_the_mail_sent() {
    let (c, portal) = consumer(PortalSettings::default(), MemMailer::default());
    let (_, event) = registered(&c, &portal);
    let long_ago = chrono::Utc::now() - chrono::Duration::minutes(5);
    c.store.claim_mail(event.id, "access_request", long_ago, 20).await.unwrap();
    assert_eq!(run(&c, &event).await.unwrap(), Outcome::Mailed(MailKind::AccessRequest));
}

#[tokio::test(start_paused = true)]
async fn a_send_that_keeps_failing_releases_its_claim_so_the_retry_can_send() {
    let failing = MemMailer::failing([Send::FailTransiently; 10]);
    let (c, portal) = consumer(PortalSettings::default(), failing);
    let (_, event) = registered(&c, &portal);
    assert!(matches!(run(&c, &event).await, Err(ConsumeError::Mail(_))));
    assert!(*c.mailer.attempts.lock().unwrap() > 1, "retried before failing the record");
    assert!(c.store.markers.lock().unwrap().is_empty(), "the claim was given back");
    c.mailer.plan.lock().unwrap().clear();
    assert_eq!(run(&c, &event).await.unwrap(), Outcome::Mailed(MailKind::AccessRequest));
}

#[tokio::test]
async fn a_permanent_failure_is_recorded_on_the_event_and_skipped_for_good() {
    let (c, portal) = consumer(PortalSettings::default(), MemMailer::failing([Send::Reject]));
    let (_, event) = registered(&c, &portal);
    let batch = c.handle_batch(&[MemStore::record_of(&event)]).await;
    assert!(batch.failures.is_empty(), "the record (and the shard) goes on");
    assert_eq!(batch.outcomes, [Outcome::MailFailed(MailKind::AccessRequest)]);
    assert!(matches!(&c.store.markers.lock().unwrap()[&(event.id, "access_request".to_string())], Marker::Failed { .. }));
    assert_eq!(c.store.mail_failures.lock().unwrap()[&event.id][0].0, "access_request");
    assert_eq!(run(&c, &event).await.unwrap(), Outcome::MailFailed(MailKind::AccessRequest), "a replay does not send");
    assert_eq!(*c.mailer.attempts.lock().unwrap(), 1);
}

#[tokio::test]
async fn auto_approval_approves_a_pending_developer_and_a_replay_does_nothing() {
    let (c, portal) =
        consumer(PortalSettings { auto_approve: true, require_verified_email: false, ..Default::default() }, MemMailer::default());
    let (dev, event) = registered(&c, &portal);
    assert_eq!(run(&c, &event).await.unwrap(), Outcome::AutoApproved);
    assert_eq!(c.store.developer(dev.id).unwrap().state, DeveloperState::Approved);
    assert_eq!(run(&c, &event).await.unwrap(), Outcome::Nothing);
}

#[tokio::test]
async fn an_admin_decision_racing_the_auto_approval_wins_and_the_consumer_backs_off() {
    let (c, portal) =
        consumer(PortalSettings { auto_approve: true, require_verified_email: false, ..Default::default() }, MemMailer::default());
    let (dev, event) = registered(&c, &portal);
    let token = AdminToken {
        id: "tok".into(),
        name: "t".into(),
        scope: "*".into(),
        token_hash: String::new(),
        created_at: dev.created_at,
        expires_at: None,
    };
    let now = chrono::Utc::now();
    // Both read the pending developer; the admin's write lands first (`join` polls in order).
    let (admin, auto) =
        futures::future::join(decide_approval(&c.store, &token, dev.approval_id.unwrap(), false, now), run(&c, &event)).await;
    assert!(admin.is_ok(), "{:?}", admin.err());
    assert_eq!(auto.unwrap(), Outcome::Nothing, "the lost race is no failure");
    assert_eq!(c.store.developer(dev.id).unwrap().state, DeveloperState::Rejected, "the admin's decision stands");
    assert_eq!(c.store.events().len(), 1, "no approval event");
}

/// A consumer reading its secret from a loader that cannot get it (no secret configured).
fn consumer_without_a_secret(settings: PortalSettings) -> (Consumer<MemStore, MemMailer>, Portal) {
    let (c, portal) = consumer(settings, MemMailer::default());
    let config = crate::config::Config { token_secret: Default::default(), ..c.config.clone() };
    let loader = std::sync::Arc::new(crate::wiring::SecretLoader::start(&aws_types::SdkConfig::builder().build(), None));
    (Consumer::with_secret_loader(c.store, c.mailer, config, Clock::default(), loader), portal)
}

#[tokio::test]
async fn records_that_mail_no_link_never_wait_for_the_token_secret() {
    let (c, portal) = consumer_without_a_secret(PortalSettings::default());
    let (_, event) = registered(&c, &portal);
    let mut elsewhere = event.clone();
    elsewhere.portal_id = uuid::Uuid::new_v4();
    assert_eq!(run(&c, &elsewhere).await.unwrap(), Outcome::Skipped, "an unknown portal is skipped");
    assert_eq!(run(&c, &event).await.unwrap(), Outcome::Mailed(MailKind::AccessRequest), "the access request carries no link");
}

#[tokio::test]
async fn a_record_that_mails_a_link_fails_while_the_secret_is_unavailable_and_mails_nothing() {
    let (c, portal) = consumer_without_a_secret(PortalSettings::default());
    let (_, mut event) = registered(&c, &portal);
    event.token_nonce = Some("a-nonce-of-the-verification-link".into());
    assert!(matches!(run(&c, &event).await, Err(ConsumeError::App(_))), "failed: the stream retries it");
    assert!(c.mailer.sent().is_empty());
}
