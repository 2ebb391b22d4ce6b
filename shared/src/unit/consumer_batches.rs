//! The stream consumer's batches under concurrency, over the in-memory ports: each event's mail
//! goes out exactly once however the batch is delivered (twice, reversed, with a poison record
//! inside), a failed record holds back only its own developer's later records, the earliest
//! failure of the batch is the one reported, each portal is read once per batch, and the
//! developers a batch auto-approves are read in one go.

use std::collections::HashSet;

use serde_json::{json, Value};

use crate::clock::Clock;
use crate::consumer::{BatchCache, Consumer, Outcome};
use crate::domain::*;
use crate::fakes::{self, MemMailer, MemStore};
use crate::mail::{MailKind, Mailer, OutgoingMail, SendError};
use crate::store::{MailClaim, MailLedger, OutboxFeed};

/// A mailer that lets every other record run before each send completes, so the records of a
/// batch really interleave.
#[derive(Default)]
struct Interleaving(MemMailer);

impl Mailer for Interleaving {
    async fn send(&self, mail: &OutgoingMail) -> Result<String, SendError> {
        tokio::task::yield_now().await;
        let id = self.0.send(mail).await;
        tokio::task::yield_now().await;
        id
    }
}

type C = Consumer<MemStore, Interleaving>;

fn consumer(concurrency: usize) -> (C, Portal) {
    let store = MemStore::default();
    let portal = fakes::portal(PortalSettings { admin_emails: vec!["admin@test.example".into()], ..Default::default() });
    store.add_portal(portal.clone());
    let config = crate::config::Config { consumer_concurrency: concurrency, ..fakes::config() };
    (Consumer::new(store, Interleaving::default(), config, Clock::default()), portal)
}

/// `n` pending developers, each with its `developer.registered` (owing the access request to
/// the admins) followed by its `developer.approved` (owing the approval mail), as the stream
/// delivers them: the developers' events interleaved, one sequence number each.
fn stream(c: &C, portal: &Portal, n: usize) -> Vec<Value> {
    let mut registered = Vec::new();
    let mut approved = Vec::new();
    for i in 0..n {
        let email = format!("dev{i}@example.com");
        let mut dev = fakes::developer(portal, Origin::Registered, Some(&email), None, DeveloperState::Pending, "h");
        dev.approval_id = Some(uuid::Uuid::now_v7());
        dev.approval_ids = dev.approval_id.into_iter().collect();
        c.store.add_developer(dev.clone());
        let mut event = LifecycleEvent::new(EventType::Registered, &dev, Actor::anonymous(), dev.created_at);
        event.to_state = Some(DeveloperState::Pending);
        registered.push(event);
        let mut event = LifecycleEvent::new(EventType::Approved, &dev, Actor::system("test"), dev.created_at);
        event.to_state = Some(DeveloperState::Approved);
        approved.push(event);
    }
    // Registrations first, then approvals, interleaved pairwise: r0 r1 a0 r2 a1 r3 a2 ...
    let mut events = Vec::new();
    let mut approved = approved.into_iter();
    for (i, r) in registered.into_iter().enumerate() {
        events.push(r);
        if i > 0 {
            events.extend(approved.next());
        }
    }
    events.extend(approved);
    events.iter().enumerate().map(|(i, e)| with_sequence(MemStore::record_of(e), i)).collect()
}

fn with_sequence(mut record: Value, i: usize) -> Value {
    record["dynamodb"] = json!({ "SequenceNumber": format!("{:021}", 100 + i) });
    record
}

fn poison(i: usize) -> Value {
    with_sequence(json!({ "eventName": "INSERT", "event": { "not": "an event" } }), i)
}

fn seq(record: &Value) -> String {
    record["dynamodb"]["SequenceNumber"].as_str().unwrap().to_string()
}

/// Each mail sent, as (recipients, subject): two mails of one event would repeat an entry.
fn sent(c: &C) -> Vec<(Vec<String>, String)> {
    c.mailer.0.sent().into_iter().map(|m| (m.to, m.content.subject)).collect()
}

/// The developers an approval mail went to (access requests go to the admins).
fn approved_mails_to(c: &C) -> HashSet<String> {
    c.mailer.0.sent().into_iter().filter(|m| m.to != ["admin@test.example"]).flat_map(|m| m.to).collect()
}

fn markers(c: &C, kind: &str) -> usize {
    c.store.markers.lock().unwrap().keys().filter(|(_, k)| k == kind).count()
}

#[tokio::test]
async fn a_batch_delivered_twice_mails_every_event_exactly_once() {
    let (c, portal) = consumer(8);
    let records = stream(&c, &portal, 20);
    let first = c.handle_batch(&records).await;
    assert!(first.failures.is_empty(), "{:?}", first.failures);
    assert_eq!(first.outcomes.len(), 40);
    assert_eq!(sent(&c).len(), 40, "20 access requests and 20 approval mails");
    let again = c.handle_batch(&records).await;
    assert!(again.failures.is_empty());
    assert!(again.outcomes.iter().all(|o| matches!(o, Outcome::AlreadyMailed(_))), "{:?}", again.outcomes);
    assert_eq!(sent(&c).len(), 40, "the redelivered batch sends nothing");
    assert_eq!((markers(&c, "access_request"), markers(&c, "approved")), (20, 20));
    assert_eq!(approved_mails_to(&c).len(), 20, "one approval mail per developer");
}

#[tokio::test]
async fn a_batch_delivered_reversed_and_then_in_order_mails_every_event_exactly_once() {
    let (c, portal) = consumer(8);
    let records = stream(&c, &portal, 20);
    let reversed: Vec<Value> = records.iter().rev().cloned().collect();
    assert!(c.handle_batch(&reversed).await.failures.is_empty());
    assert!(c.handle_batch(&records).await.failures.is_empty());
    assert_eq!(sent(&c).len(), 40);
    assert_eq!(approved_mails_to(&c).len(), 20);
}

#[tokio::test]
async fn a_poison_record_is_reported_and_the_retry_from_it_sends_nothing_twice() {
    let (c, portal) = consumer(8);
    let mut records = stream(&c, &portal, 10);
    records.insert(7, poison(1000));
    let batch = c.handle_batch(&records).await;
    assert_eq!(batch.failures, [seq(&records[7])], "the poison record, only it");
    assert_eq!(sent(&c).len(), 20, "every other record was worked");
    // Lambda retries from the reported record: it and everything after it come again.
    let retry = c.handle_batch(&records[7..]).await;
    assert_eq!(retry.failures, [seq(&records[7])]);
    assert_eq!(sent(&c).len(), 20, "exactly once");
}

#[tokio::test(start_paused = true)]
async fn a_failed_record_holds_back_the_later_records_of_its_developer_only_and_the_earliest_failure_is_reported() {
    let (c, portal) = consumer(8);
    let mut records = stream(&c, &portal, 5);
    // Developer 1's access request is being sent by another invocation (a lease that outlasts
    // the consumer's one wait): its registration fails; its approval (later) must wait.
    let blocked = records[1].clone();
    let blocked_id: uuid::Uuid = serde_json::from_value(blocked["event"]["id"].clone()).unwrap();
    let blocked_dev = blocked["event"]["developer"]["email"].as_str().unwrap().to_string();
    assert_eq!(c.store.claim_mail(blocked_id, "access_request", chrono::Utc::now(), 3600).await.unwrap(), MailClaim::Acquired);
    records.push(poison(1000)); // a later failure in another chain
    let batch = c.handle_batch(&records).await;
    assert_eq!(batch.failures, [seq(&blocked)], "the earliest failure of the batch");
    let approved = approved_mails_to(&c);
    assert!(!approved.contains(&blocked_dev), "the approval did not overtake its registration");
    assert_eq!(approved.len(), 4, "the other developers' chains went on");
    assert_eq!(sent(&c).len(), 8);
    // The other invocation gives up; the retry from the reported record sends what is left.
    c.store.release_mail(blocked_id, "access_request").await.unwrap();
    let retry = c.handle_batch(&records[1..]).await;
    assert_eq!(retry.failures, [seq(records.last().unwrap())], "only the poison record is left");
    assert_eq!(sent(&c).len(), 10, "developer 1's two mails, nothing else again");
    assert!(approved_mails_to(&c).contains(&blocked_dev));
}

#[tokio::test]
async fn each_portal_is_read_once_per_batch_however_many_records_need_it_at_once() {
    let (c, portal) = consumer(16);
    let records = stream(&c, &portal, 30);
    let batch = c.handle_batch(&records).await;
    assert!(batch.failures.is_empty());
    assert_eq!(batch.portal_reads, 1);
}

#[tokio::test]
async fn with_a_concurrency_of_one_records_are_worked_in_stream_order_and_the_batch_stops_at_the_first_failure() {
    let (c, portal) = consumer(1);
    let mut records = stream(&c, &portal, 5);
    records.insert(3, poison(1000));
    let batch = c.handle_batch(&records).await;
    assert_eq!(batch.failures, [seq(&records[3])]);
    let (request, approval) = (Outcome::Mailed(MailKind::AccessRequest), Outcome::Mailed(MailKind::Approved));
    assert_eq!(batch.outcomes, [request.clone(), request, approval], "r0 r1 a0, then the poison record");
    assert_eq!(sent(&c).len(), 3);
}

/// `n` pending developers of an auto-approving portal (no confirmed address needed), with
/// their `developer.registered` records in stream order.
fn registrations(n: usize, concurrency: usize, settings: PortalSettings) -> (C, Vec<Value>) {
    let (c, _) = consumer(concurrency);
    let portal = fakes::portal(settings);
    c.store.add_portal(portal.clone());
    let records = (0..n)
        .map(|i| {
            let mut dev =
                fakes::developer(&portal, Origin::Registered, Some(&format!("auto{i}@example.com")), None, DeveloperState::Pending, "h");
            dev.approval_id = Some(uuid::Uuid::now_v7());
            dev.approval_ids = dev.approval_id.into_iter().collect();
            c.store.add_developer(dev.clone());
            let mut event = LifecycleEvent::new(EventType::Registered, &dev, Actor::anonymous(), dev.created_at);
            event.to_state = Some(DeveloperState::Pending);
            event.approval_id = dev.approval_id;
            with_sequence(MemStore::record_of(&event), i)
        })
        .collect();
    (c, records)
}

fn auto_approving() -> PortalSettings {
    PortalSettings { auto_approve: true, require_verified_email: false, ..Default::default() }
}

/// One registration on an auto-approving portal, its event, and its developer as the batch's
/// read-ahead found it.
fn one_registration_read_early() -> (C, LifecycleEvent, Developer) {
    let (c, records) = registrations(1, 8, auto_approving());
    let event = c.store.inserted_event(&records[0]).unwrap().unwrap();
    let early = c.store.developer(event.developer_id.unwrap()).unwrap();
    (c, event, early)
}

fn count(calls: &[String], name: &str) -> usize {
    calls.iter().filter(|c| c.as_str() == name).count()
}

#[tokio::test]
async fn a_batch_reads_the_developers_it_auto_approves_in_one_read_and_approves_each() {
    let (c, records) = registrations(30, 8, auto_approving());
    c.store.take_calls();
    let batch = c.handle_batch(&records).await;
    assert!(batch.failures.is_empty(), "{:?}", batch.failures);
    assert_eq!(batch.outcomes, vec![Outcome::AutoApproved; 30]);
    let calls = c.store.take_calls();
    assert_eq!((count(&calls, "get developers"), count(&calls, "get developer")), (1, 0), "{calls:?}");
    // Delivered again: the one read says every developer is approved already; nothing changes.
    let again = c.handle_batch(&records).await;
    assert_eq!(again.outcomes, vec![Outcome::Nothing; 30]);
    let calls = c.store.take_calls();
    assert_eq!((count(&calls, "get developers"), count(&calls, "get developer"), count(&calls, "change developer")), (1, 0, 0));
}

#[tokio::test]
async fn a_batch_on_a_portal_that_does_not_auto_approve_reads_no_developer() {
    let (c, records) = registrations(10, 8, PortalSettings { access_request_email: false, ..Default::default() });
    c.store.take_calls();
    let batch = c.handle_batch(&records).await;
    assert_eq!(batch.outcomes, vec![Outcome::Nothing; 10]);
    let calls = c.store.take_calls();
    assert_eq!((count(&calls, "get developers"), count(&calls, "get developer")), (0, 0), "{calls:?}");
}

#[tokio::test]
async fn with_a_concurrency_of_one_each_record_reads_its_own_developer_as_before() {
    let (c, records) = registrations(5, 1, auto_approving());
    c.store.take_calls();
    assert_eq!(c.handle_batch(&records).await.outcomes, vec![Outcome::AutoApproved; 5]);
    let calls = c.store.take_calls();
    assert_eq!((count(&calls, "get developers"), count(&calls, "get developer")), (0, 5), "{calls:?}");
}

#[tokio::test]
async fn a_developer_changed_after_the_batch_read_it_is_read_again_and_still_auto_approved() {
    let (c, event, early) = one_registration_read_early();
    let id = early.id;
    // Changed since the early read (an admin renamed them): the early copy's version is stale.
    let mut renamed = early.clone().bumped(chrono::Utc::now());
    renamed.name = "Renamed".into();
    c.store.add_developer(renamed);
    c.store.take_calls();
    let outcome = c.handle_event(&event, &BatchCache::read_ahead([early])).await.unwrap();
    assert_eq!(outcome, Outcome::AutoApproved);
    let now = c.store.developer(id).unwrap();
    assert_eq!((now.state, now.name.as_str()), (DeveloperState::Approved, "Renamed"), "approved on what is stored now");
    let calls = c.store.take_calls();
    assert_eq!(count(&calls, "get developer"), 1, "read again once: {calls:?}");
}

#[tokio::test]
async fn a_developer_decided_after_the_batch_read_it_keeps_the_decision() {
    let (c, event, early) = one_registration_read_early();
    let id = early.id;
    let mut rejected = early.clone().bumped(chrono::Utc::now());
    rejected.state = DeveloperState::Rejected;
    rejected.approval_id = None;
    c.store.add_developer(rejected);
    let outcome = c.handle_event(&event, &BatchCache::read_ahead([early])).await.unwrap();
    assert_eq!(outcome, Outcome::Nothing, "the admin's decision stands");
    assert_eq!(c.store.developer(id).unwrap().state, DeveloperState::Rejected);
}
