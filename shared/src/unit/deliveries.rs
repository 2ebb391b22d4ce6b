//! Webhook delivery over the in-memory ports: the fan-out writes one delivery per matching
//! endpoint once, a replayed record queues nothing new, an attempt signs and records, a
//! receiver that is down gets the same webhook-id again on the schedule, waits longer than
//! the queue allows are chained, and finished or orphaned messages are dropped.

use crate::delivery::{attempt, delivery_batch, fan_out, fan_out_batch, DeliveryMessage, Handled};
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
