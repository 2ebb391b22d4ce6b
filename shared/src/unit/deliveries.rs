//! Webhook delivery over the in-memory ports: the fan-out writes one delivery per matching
//! endpoint once, a replayed record queues nothing new, an attempt signs and records, a
//! receiver that is down gets the same webhook-id again on the schedule, waits longer than
//! the queue allows are chained, and finished or orphaned messages are dropped.

use crate::delivery::{attempt, fan_out, fan_out_batch, DeliveryMessage, Handled};
use crate::delivery_worker::delivery_batch;
use crate::domain::delivery::{DeliveryStatus, Next, Outcome};
use crate::domain::webhooks::{DeliveryRules, RetrySchedule, UrlPolicy};
use crate::domain::*;
use crate::fakes::{self, FakeQueue, FakeSender, MemStore};
use crate::store::AdminToken;
use crate::webhooks::{self as hooks, NewWebhook};

fn admin() -> AdminToken {
    AdminToken {
        id: "tok".into(),
        name: "ops".into(),
        scope: "*".into(),
        token_hash: "h".into(),
        created_at: chrono::Utc::now(),
        expires_at: None,
    }
}

/// A portal with two endpoints (one for developer events, one for invites) and an approval event.
async fn setup() -> (MemStore, LifecycleEvent, Vec<crate::domain::webhooks::Webhook>) {
    let store = MemStore::default();
    let portal = fakes::portal(PortalSettings::default());
    store.add_portal(portal.clone());
    let now = chrono::Utc::now();
    let mut hooks_ = vec![];
    for events in [vec!["developer.*".to_string()], vec!["invite.*".to_string()]] {
        let body = NewWebhook { url: "https://hooks.example.com/in".into(), events, description: None, enabled: None };
        hooks_.push(hooks::create(&store, &admin(), portal.id, UrlPolicy::default(), body, now).await.unwrap());
    }
    let dev = fakes::developer(&portal, Origin::Registered, Some("ann@example.com"), None, DeveloperState::Approved, "hash");
    let event = LifecycleEvent::new(EventType::Approved, &dev, Actor::admin("tok"), now);
    store.events.lock().unwrap().push(event.clone());
    (store, event, hooks_)
}

#[tokio::test]
async fn an_event_becomes_one_delivery_per_matching_endpoint_and_a_replayed_record_adds_none() {
    let (store, event, hooks_) = setup().await;
    let queue = FakeQueue::default();
    let now = chrono::Utc::now();
    assert_eq!(fan_out(&store, &queue, &event, now).await.unwrap(), 1);
    let sent = queue.sent.lock().unwrap().clone();
    assert_eq!(sent, [(DeliveryMessage { portal_id: event.portal_id, webhook_id: hooks_[0].id, event_id: event.id }, 0)]);
    assert_eq!(store.deliveries.lock().unwrap().len(), 1, "the invite endpoint wants no developer event");

    // Replayed before the first attempt: queued again (the worker tolerates copies), not stored twice.
    assert_eq!(fan_out(&store, &queue, &event, now).await.unwrap(), 1);
    assert_eq!(store.deliveries.lock().unwrap().len(), 1);
    let sender = FakeSender::default();
    let message = sent[0].0.clone();
    attempt(&store, &queue, &sender, &DeliveryRules::default(), &message, now).await.unwrap();
    queue.sent.lock().unwrap().clear();
    assert_eq!(fan_out(&store, &queue, &event, now).await.unwrap(), 0, "after an attempt a replay queues nothing");
    assert!(queue.sent.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_receiver_that_is_down_gets_the_same_webhook_id_on_the_schedule_until_it_answers_2xx() {
    let (store, event, _) = setup().await;
    let queue = FakeQueue::default();
    let t0 = chrono::Utc::now();
    fan_out(&store, &queue, &event, t0).await.unwrap();
    let message = queue.sent.lock().unwrap()[0].0.clone();
    queue.sent.lock().unwrap().clear();
    let sender = FakeSender::default();
    sender.script.lock().unwrap().extend([
        Outcome::Failed { status: Some(503), error: "unavailable".into() },
        Outcome::Failed { status: None, error: "connection refused".into() },
    ]);
    let schedule = DeliveryRules { schedule: RetrySchedule(vec![0, 5, 60]), ..Default::default() };

    assert_eq!(attempt(&store, &queue, &sender, &schedule, &message, t0).await.unwrap(), Handled::Attempted(Next::RetryIn(0)));
    assert_eq!(attempt(&store, &queue, &sender, &schedule, &message, t0).await.unwrap(), Handled::Attempted(Next::RetryIn(5)));
    assert_eq!(attempt(&store, &queue, &sender, &schedule, &message, t0).await.unwrap(), Handled::Waiting, "not due yet: queued again");
    let t1 = t0 + chrono::Duration::seconds(5);
    assert_eq!(attempt(&store, &queue, &sender, &schedule, &message, t1).await.unwrap(), Handled::Attempted(Next::Done));
    let delays: Vec<u64> = queue.sent.lock().unwrap().iter().map(|(_, d)| *d).collect();
    assert_eq!(delays, [0, 5, 5]);

    let received = sender.received.lock().unwrap().clone();
    assert_eq!(received.len(), 3);
    for (url, headers, body) in &received {
        assert_eq!(url, "https://hooks.example.com/in");
        assert_eq!(headers[0], ("webhook-id", event.id.to_string()), "the same webhook-id every attempt");
        assert!(headers[2].1.starts_with("v1,"));
        assert_eq!(body, &received[0].2);
    }
    assert_eq!(received[2].1[1].1, t1.timestamp().to_string(), "the attempt's own timestamp");
    let d = store.deliveries.lock().unwrap().values().next().unwrap().clone();
    assert_eq!((d.status, d.attempts, d.last_status_code, d.delivered_at), (DeliveryStatus::Succeeded, 3, Some(200), Some(t1)));
    assert_eq!(
        attempt(&store, &queue, &sender, &schedule, &message, t1).await.unwrap(),
        Handled::Dropped,
        "a finished delivery is not sent again"
    );
}

#[tokio::test]
async fn a_wait_longer_than_the_queue_allows_is_chained_and_spent_retries_fail_the_delivery() {
    let (store, event, _) = setup().await;
    let queue = FakeQueue::default();
    let t0 = chrono::Utc::now();
    fan_out(&store, &queue, &event, t0).await.unwrap();
    let message = queue.sent.lock().unwrap()[0].0.clone();
    queue.sent.lock().unwrap().clear();
    let sender = FakeSender::default();
    sender
        .script
        .lock()
        .unwrap()
        .extend([Outcome::Failed { status: Some(500), error: "boom".into() }, Outcome::Failed { status: Some(500), error: "boom".into() }]);
    let schedule = DeliveryRules { schedule: RetrySchedule(vec![2_000]), ..Default::default() };
    assert_eq!(attempt(&store, &queue, &sender, &schedule, &message, t0).await.unwrap(), Handled::Attempted(Next::RetryIn(2_000)));
    let t1 = t0 + chrono::Duration::seconds(900);
    assert_eq!(attempt(&store, &queue, &sender, &schedule, &message, t1).await.unwrap(), Handled::Waiting);
    let delays: Vec<u64> = queue.sent.lock().unwrap().iter().map(|(_, d)| *d).collect();
    assert_eq!(delays, [900, 900], "2000 s as 900 + 900 + the rest");
    let t2 = t0 + chrono::Duration::seconds(2_000);
    assert_eq!(attempt(&store, &queue, &sender, &schedule, &message, t2).await.unwrap(), Handled::Attempted(Next::Done));
    let d = store.deliveries.lock().unwrap().values().next().unwrap().clone();
    assert_eq!((d.status, d.attempts, d.last_error.as_deref()), (DeliveryStatus::Failed, 2, Some("boom")));
}

#[tokio::test]
async fn a_message_of_a_deleted_endpoint_is_dropped_without_sending() {
    let (store, event, hooks_) = setup().await;
    let queue = FakeQueue::default();
    let now = chrono::Utc::now();
    fan_out(&store, &queue, &event, now).await.unwrap();
    let message = queue.sent.lock().unwrap()[0].0.clone();
    hooks::delete(&store, &admin(), event.portal_id, hooks_[0].id).await.unwrap();
    let sender = FakeSender::default();
    assert_eq!(attempt(&store, &queue, &sender, &DeliveryRules::default(), &message, now).await.unwrap(), Handled::Dropped);
    assert!(sender.received.lock().unwrap().is_empty());
}

fn stream_record(seq: &str, event: serde_json::Value) -> serde_json::Value {
    serde_json::json!({ "eventName": "INSERT", "dynamodb": { "SequenceNumber": seq }, "event": event })
}

#[tokio::test]
async fn a_fan_out_batch_stops_at_a_malformed_record_and_reports_only_its_sequence_number() {
    let (store, event, _) = setup().await;
    let queue = FakeQueue::default();
    let records = [
        stream_record("1", serde_json::to_value(&event).unwrap()),
        serde_json::json!({ "eventName": "MODIFY", "dynamodb": { "SequenceNumber": "2" } }),
        stream_record("3", serde_json::json!("not an event")),
        stream_record("4", serde_json::to_value(&event).unwrap()),
    ];
    assert_eq!(fan_out_batch(&store, &queue, &records, chrono::Utc::now()).await, ["3"]);
    assert_eq!(queue.sent.lock().unwrap().len(), 1, "the record before it was fanned out, the one after it waits for the retry");
    assert!(fan_out_batch(&store, &queue, &records[..2], chrono::Utc::now()).await.is_empty());
}

#[tokio::test]
async fn a_delivery_batch_fails_only_the_unreadable_message_and_delivers_the_others() {
    let (store, event, _) = setup().await;
    let queue = FakeQueue::default();
    let now = chrono::Utc::now();
    fan_out(&store, &queue, &event, now).await.unwrap();
    let message = queue.sent.lock().unwrap()[0].0.clone();
    queue.sent.lock().unwrap().clear();
    let sender = FakeSender::default();
    let batch = [("m-1".to_string(), "{garbage".to_string()), ("m-2".to_string(), serde_json::to_string(&message).unwrap())];
    assert_eq!(delivery_batch(&store, &queue, &sender, &DeliveryRules::default(), &batch, now).await, ["m-1"]);
    assert_eq!(sender.received.lock().unwrap().len(), 1);
    let d = store.deliveries.lock().unwrap().values().next().unwrap().clone();
    assert_eq!(d.status, DeliveryStatus::Succeeded);
    assert!(queue.sent.lock().unwrap().is_empty(), "nothing to retry");
}

/// A portal with one endpoint for developer events and a developer's registration followed
/// by its approval (UUIDv7 ids: the registration is the older event).
async fn registration_then_approval() -> (MemStore, crate::domain::webhooks::Webhook, LifecycleEvent, LifecycleEvent) {
    let store = MemStore::default();
    let portal = fakes::portal(PortalSettings { admin_emails: vec!["admin@test.example".into()], ..Default::default() });
    store.add_portal(portal.clone());
    let now = chrono::Utc::now();
    let body =
        NewWebhook { url: "https://hooks.example.com/in".into(), events: vec!["developer.*".into()], description: None, enabled: None };
    let hook = hooks::create(&store, &admin(), portal.id, UrlPolicy::default(), body, now).await.unwrap();
    let dev = fakes::developer(&portal, Origin::Registered, Some("ann@example.com"), None, DeveloperState::Pending, "hash");
    let registered = LifecycleEvent::new(EventType::Registered, &dev, Actor::anonymous(), now);
    let approved = LifecycleEvent::new(EventType::Approved, &dev, Actor::admin("tok"), now);
    store.events.lock().unwrap().extend([registered.clone(), approved.clone()]);
    (store, hook, registered, approved)
}

fn message(hook: &crate::domain::webhooks::Webhook, event: &LifecycleEvent) -> DeliveryMessage {
    DeliveryMessage { portal_id: hook.portal_id, webhook_id: hook.id, event_id: event.id }
}

fn rules(schedule: &[u64], disable_after_seconds: i64) -> DeliveryRules {
    DeliveryRules { schedule: RetrySchedule(schedule.to_vec()), disable_after_seconds }
}

fn down() -> Outcome {
    Outcome::Failed { status: Some(503), error: "unavailable".into() }
}

fn received_types(sender: &FakeSender) -> Vec<String> {
    let received = sender.received.lock().unwrap();
    received
        .iter()
        .map(|(_, _, body)| serde_json::from_str::<serde_json::Value>(body).unwrap()["type"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn an_approval_waits_while_the_same_developers_registration_is_failing_and_both_arrive_in_order() {
    let (store, hook, registered, approved) = registration_then_approval().await;
    let queue = FakeQueue::default();
    let t0 = chrono::Utc::now();
    let at = |s: i64| t0 + chrono::Duration::seconds(s);
    assert_eq!(fan_out(&store, &queue, &registered, t0).await.unwrap(), 1);
    assert_eq!(fan_out(&store, &queue, &approved, t0).await.unwrap(), 1);
    queue.sent.lock().unwrap().clear();
    let sender = FakeSender::default();
    sender.script.lock().unwrap().extend([down(), down()]);
    let rules = rules(&[5, 5], DISABLE_AFTER);
    let (reg, app) = (message(&hook, &registered), message(&hook, &approved));

    assert_eq!(attempt(&store, &queue, &sender, &rules, &reg, t0).await.unwrap(), Handled::Attempted(Next::RetryIn(5)));
    assert_eq!(attempt(&store, &queue, &sender, &rules, &app, t0).await.unwrap(), Handled::WaitingForOlder);
    assert_eq!(queue.sent.lock().unwrap().last().unwrap(), &(app.clone(), 6), "until just after the registration's retry");
    let waiting = store.deliveries.lock().unwrap()[&(hook.id, approved.id)].clone();
    assert_eq!((waiting.attempts, waiting.next_attempt_at), (0, Some(at(6))), "no attempt, the new due time recorded");

    assert_eq!(attempt(&store, &queue, &sender, &rules, &reg, at(5)).await.unwrap(), Handled::Attempted(Next::RetryIn(5)));
    assert_eq!(attempt(&store, &queue, &sender, &rules, &app, at(6)).await.unwrap(), Handled::WaitingForOlder, "still failing");
    assert_eq!(attempt(&store, &queue, &sender, &rules, &reg, at(10)).await.unwrap(), Handled::Attempted(Next::Done));
    assert_eq!(attempt(&store, &queue, &sender, &rules, &app, at(11)).await.unwrap(), Handled::Attempted(Next::Done));
    assert_eq!(received_types(&sender), ["developer.registered", "developer.registered", "developer.registered", "developer.approved"]);
}

const DISABLE_AFTER: i64 = crate::domain::webhooks::DISABLE_AFTER_SECONDS;

#[tokio::test]
async fn a_registration_given_up_or_abandoned_does_not_hold_the_developers_later_events_forever() {
    // Given up: every retry spent, the delivery failed for good; the approval goes next.
    let (store, hook, registered, approved) = registration_then_approval().await;
    let queue = FakeQueue::default();
    let t0 = chrono::Utc::now();
    fan_out(&store, &queue, &registered, t0).await.unwrap();
    fan_out(&store, &queue, &approved, t0).await.unwrap();
    let sender = FakeSender::default();
    sender.script.lock().unwrap().extend([down(), down()]);
    let rules = rules(&[5], DISABLE_AFTER);
    let (reg, app) = (message(&hook, &registered), message(&hook, &approved));
    attempt(&store, &queue, &sender, &rules, &reg, t0).await.unwrap();
    let t1 = t0 + chrono::Duration::seconds(5);
    assert_eq!(attempt(&store, &queue, &sender, &rules, &reg, t1).await.unwrap(), Handled::Attempted(Next::Done));
    assert_eq!(store.deliveries.lock().unwrap()[&(hook.id, registered.id)].status, DeliveryStatus::Failed);
    assert_eq!(attempt(&store, &queue, &sender, &rules, &app, t1).await.unwrap(), Handled::Attempted(Next::Done));
    assert_eq!(received_types(&sender), ["developer.registered", "developer.registered", "developer.approved"]);

    // Abandoned: a pending registration whose message was lost (due an hour ago, nobody
    // attempted it) no longer holds the approval.
    let (store, hook, registered, approved) = registration_then_approval().await;
    fan_out(&store, &queue, &registered, t0).await.unwrap();
    fan_out(&store, &queue, &approved, t0).await.unwrap();
    let sender = FakeSender::default();
    let late = t0 + chrono::Duration::seconds(crate::domain::delivery::ABANDONED_AFTER_SECONDS);
    let app = message(&hook, &approved);
    assert_eq!(attempt(&store, &queue, &sender, &rules, &app, late).await.unwrap(), Handled::Attempted(Next::Done));
    assert_eq!(received_types(&sender), ["developer.approved"]);
}

#[tokio::test]
async fn events_of_other_developers_or_of_no_developer_do_not_wait() {
    let (store, hook, registered, _) = registration_then_approval().await;
    let queue = FakeQueue::default();
    let t0 = chrono::Utc::now();
    fan_out(&store, &queue, &registered, t0).await.unwrap();
    let portal = store.portals.lock().unwrap().values().next().unwrap().clone();
    let bob = fakes::developer(&portal, Origin::Registered, Some("bob@example.com"), None, DeveloperState::Pending, "hash");
    let other = LifecycleEvent::new(EventType::Registered, &bob, Actor::anonymous(), t0);
    let mut nobody = LifecycleEvent::of_nobody(EventType::LoginFailed, portal.id, bob.snapshot(), t0);
    nobody.developer_id = None;
    store.events.lock().unwrap().extend([other.clone(), nobody.clone()]);
    for e in [&other, &nobody] {
        fan_out(&store, &queue, e, t0).await.unwrap();
    }
    let sender = FakeSender::default();
    sender.script.lock().unwrap().push_back(down());
    let rules = rules(&[5], DISABLE_AFTER);
    attempt(&store, &queue, &sender, &rules, &message(&hook, &registered), t0).await.unwrap();
    for e in [&other, &nobody] {
        assert_eq!(attempt(&store, &queue, &sender, &rules, &message(&hook, e), t0).await.unwrap(), Handled::Attempted(Next::Done));
    }
}

#[tokio::test]
async fn an_endpoint_failing_every_delivery_for_the_period_is_disabled_with_an_event_and_a_success_resets_the_clock() {
    let (store, hook, registered, approved) = registration_then_approval().await;
    let queue = FakeQueue::default();
    let t0 = chrono::Utc::now();
    let at = |s: i64| t0 + chrono::Duration::seconds(s);
    fan_out(&store, &queue, &registered, t0).await.unwrap();
    let sender = FakeSender::default();
    let rules = rules(&[50, 50, 50, 50], 100);
    let reg = message(&hook, &registered);
    let stored = || store.webhooks.lock().unwrap()[&hook.id].clone();

    // Down, then back before the period is over: the clock stops.
    sender.script.lock().unwrap().push_back(down());
    attempt(&store, &queue, &sender, &rules, &reg, t0).await.unwrap();
    assert_eq!(stored().failing_since, Some(t0), "the first failure starts the clock");
    assert_eq!(stored().version, hook.version, "the health is no change of the endpoint's version");
    attempt(&store, &queue, &sender, &rules, &reg, at(50)).await.unwrap();
    assert_eq!(stored().failing_since, None, "a success stops it");

    // Down for good: disabled by the failure that comes 100 s after the first one.
    fan_out(&store, &queue, &approved, at(60)).await.unwrap();
    let app = message(&hook, &approved);
    sender.script.lock().unwrap().extend([down(), down(), down()]);
    attempt(&store, &queue, &sender, &rules, &app, at(60)).await.unwrap();
    attempt(&store, &queue, &sender, &rules, &app, at(110)).await.unwrap();
    assert!(stored().enabled, "failing for 50 s only");
    attempt(&store, &queue, &sender, &rules, &app, at(160)).await.unwrap();
    let disabled = stored();
    assert!(!disabled.enabled, "failing for 100 s since the last success");
    assert_eq!(disabled.version, hook.version + 1);
    let events = store.events.lock().unwrap().clone();
    let event = events.iter().find(|e| e.event_type == EventType::WebhookDisabled).expect("a webhook.disabled event");
    let subject = event.subject.clone().unwrap();
    assert_eq!((subject.webhook_id, subject.url.as_deref(), subject.failing_since), (Some(hook.id), Some(hook.url.as_str()), Some(at(60))));
    assert_eq!((event.actor.0.as_str(), event.developer_id), ("system:webhook-delivery", None));
    assert_eq!(
        attempt(&store, &queue, &sender, &rules, &app, at(210)).await.unwrap(),
        Handled::Dropped,
        "a disabled endpoint gets nothing"
    );
    assert_eq!(events.iter().filter(|e| e.event_type == EventType::WebhookDisabled).count(), 1);

    // Enabled again by an admin: the clock starts afresh.
    let patch = serde_json::from_value(serde_json::json!({ "enabled": true })).unwrap();
    let w = hooks::update(&store, &admin(), hook.portal_id, hook.id, UrlPolicy::default(), patch, at(220)).await.unwrap();
    assert!(w.enabled && w.failing_since.is_none());
}

#[tokio::test]
async fn the_stream_consumer_mails_a_disabled_endpoint_to_the_portals_admins() {
    let (store, hook, _, _) = registration_then_approval().await;
    let event = LifecycleEvent::webhook_disabled(&hook, hook.created_at, chrono::Utc::now());
    let mailer = fakes::MemMailer::default();
    let consumer = crate::consumer::Consumer::new(store, mailer, fakes::config(), crate::clock::Clock::default());
    let outcome = consumer.handle_record(&MemStore::record_of(&event), &Default::default()).await.unwrap();
    assert_eq!(outcome, crate::consumer::Outcome::Mailed(crate::mail::MailKind::WebhookDisabled));
    let sent = consumer.mailer.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, ["admin@test.example"]);
    assert!(sent[0].content.subject.contains("webhook endpoint was disabled"), "{}", sent[0].content.subject);
    assert!(sent[0].content.text.contains("https://hooks.example.com/in"), "{}", sent[0].content.text);
}
